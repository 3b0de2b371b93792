"""The proxy's own connections to the real clusters: metadata views, a small Kafka client, admin reads.

May import protocol/, proxy.log and the pure proxy.switch.machine (its evidence types); never
proxy.dataplane, proxy.admin or the switch's asyncio side.
"""
