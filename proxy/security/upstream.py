"""How the proxy connects to one cluster, in one object every outbound connection takes.

Everything the proxy opens to a cluster (the relay's upstream connections, the monitor, the
switch's ClusterAdmin and every check that goes through it: mirror progress, offsets, the position
prover, producer reinit) takes that cluster's `UpstreamSecurity`, so a cluster's settings reach
every connection made to it from one place: its TLS context and its service login.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from proxy.config import ProxyConfig
from proxy.sasl.settings import SaslLogin
from proxy.security.tls import upstream_context


@dataclass(frozen=True, slots=True)
class UpstreamSecurity:
    """How to connect to one cluster: `ssl` None for plaintext, `sasl` None for no login."""

    ssl: ssl.SSLContext | None = None
    sasl: SaslLogin | None = None


PLAINTEXT = UpstreamSecurity()


def upstream_security(config: ProxyConfig) -> dict[str, UpstreamSecurity]:
    """Each cluster's security, built once at start: a bad CA file stops the start, naming its key."""
    return {name: UpstreamSecurity(upstream_context(c.tls, f"clusters.{name}.tls") if c.tls else None, c.sasl)
            for name, c in config.clusters.items()}
