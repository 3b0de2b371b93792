"""The switch: move every client from the active cluster to another.

`machine/` is the pure state machine (events in, actions out); `executor` carries its actions out with
asyncio against the clusters (through proxy.upstream); `interceptor` applies its fences and fetch
holds in every connection's request path (`ProxyContext.interceptors`).
"""
