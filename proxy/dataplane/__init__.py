"""The data plane: client and upstream connections, correlation, the virtual cluster and the rewrites.

May import protocol/, proxy.upstream (cluster views) and the top-level config, log and metrics; never
proxy.admin. The switch plugs in through `context.RequestInterceptor`, so nothing here imports it.
"""
