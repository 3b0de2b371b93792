"""TLS contexts built from config: one per cluster for the proxy's outbound connections, and a
reloadable one for the client listeners.

The outbound context reaches every connection through `proxy.security.upstream.UpstreamSecurity`.

Certificate rotation: `ServerTls` keeps the context the listeners were created with and, through
its SNI callback (OpenSSL calls it for every ClientHello, with or without a server name), hands each
new handshake the newest context. `reload()` builds a fresh context from the files; a bad new file
keeps the previous context and says why. Connections already established keep the context they
were made with, so a rotation drops nobody.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from pathlib import Path

from proxy.config import ClusterTlsConfig, ConfigError, ListenerTlsConfig
from proxy.log import proxy as log

MIN_VERSION = ssl.TLSVersion.TLSv1_2


def upstream_context(tls: ClusterTlsConfig, path: str) -> ssl.SSLContext:
    """A client context that trusts the cluster's CA (or the system's), with an optional client cert."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = MIN_VERSION
    context.check_hostname = tls.verify_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    _load(lambda: context.load_verify_locations(tls.ca_file) if tls.ca_file else context.load_default_certs(),
          f"{path}.ca_file")
    if tls.cert_file is not None:
        _load(lambda: context.load_cert_chain(tls.cert_file or "", tls.key_file), f"{path}.cert_file")
    return context


def listener_context(tls: ListenerTlsConfig, path: str = "listeners.tls") -> ssl.SSLContext:
    """A server context with the listener's certificate; with a client CA, client certs are checked."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = MIN_VERSION
    _load(lambda: context.load_cert_chain(tls.cert_file, tls.key_file), f"{path}.cert_file")
    if tls.client_ca_file is not None:
        _load(lambda: context.load_verify_locations(tls.client_ca_file), f"{path}.client_ca_file")
        context.verify_mode = ssl.CERT_REQUIRED if tls.require_client_cert else ssl.CERT_OPTIONAL
    return context


def _load(action: Callable[[], object], path: str) -> None:
    """Run one load_* call; a missing or bad file is a ConfigError naming its key."""
    try:
        action()
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigError(path, f"cannot load: {exc}") from None


class ServerTls:
    """The listeners' TLS: one context the servers hold, whose handshakes use the newest files."""

    def __init__(self, tls: ListenerTlsConfig, path: str = "listeners.tls") -> None:
        self.tls = tls
        self.path = path
        self.current = listener_context(tls, path)
        self.listening = listener_context(tls, path)
        self.listening.sni_callback = self._choose
        self.reloads = 0
        self._stamp = self._files_stamp()

    def _choose(self, ssl_object: ssl.SSLObject, _server_name: str | None, _context: ssl.SSLContext) -> None:
        """Every handshake gets the newest context (the one the listener holds may be old)."""
        ssl_object.context = self.current

    def _files(self) -> list[str]:
        return [f for f in (self.tls.cert_file, self.tls.key_file, self.tls.client_ca_file) if f]

    def _files_stamp(self) -> tuple[tuple[int, int], ...]:
        stamps = []
        for name in self._files():
            try:
                stat = Path(name).stat()
                stamps.append((stat.st_mtime_ns, stat.st_size))
            except OSError:
                stamps.append((-1, -1))
        return tuple(stamps)

    def reload(self) -> bool:
        """Build a context from the files as they are now; on error keep serving the old one."""
        self._stamp = self._files_stamp()
        try:
            self.current = listener_context(self.tls, self.path)
        except ConfigError as exc:
            log.error("TLS reload failed, still serving the previous certificate: %s", exc)
            return False
        self.reloads += 1
        log.info("TLS certificate reloaded from %s (reload %d)", self.tls.cert_file, self.reloads)
        return True

    def reload_if_changed(self) -> bool:
        return self._files_stamp() != self._stamp and self.reload()

    async def watch(self, interval_s: float = 2.0) -> None:
        """Poll the files' mtimes and sizes: a rotated certificate is picked up without a signal."""
        while True:
            await asyncio.sleep(interval_s)
            self.reload_if_changed()
