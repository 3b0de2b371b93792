"""TLS contexts from config, and certificate rotation, on loopback sockets (no broker)."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import threading
from pathlib import Path

import pytest

from harness.certs import TestCertificates, make_test_certificates
from protocol.errors import FrameTooLarge, looks_like_tls
from protocol.framing import FrameSplitter
from proxy.config import MAX_FRAME_BYTES, ClusterTlsConfig, ConfigError, ListenerTlsConfig
from proxy.security.tls import ServerTls, listener_context, upstream_context
from proxy.security.upstream import UpstreamSecurity
from proxy.upstream.kafka_client import KafkaClientError, KafkaConnection


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TestCertificates:
    return make_test_certificates(tmp_path_factory.mktemp("certs"))


class TlsEcho:
    """A one-thread TLS server on loopback that completes handshakes with `context` and closes."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.errors: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(str(exc))


def peer_certificate(port: int, trust: Path) -> bytes:
    context = ssl.create_default_context(cafile=str(trust))
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return der


def test_a_reload_serves_the_new_certificate_to_new_handshakes(certs: TestCertificates, tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    shutil.copy(certs.proxy.cert, cert)
    shutil.copy(certs.proxy.key, key)
    server = ServerTls(ListenerTlsConfig(str(cert), str(key)))
    echo = TlsEcho(server.listening)
    before = peer_certificate(echo.port, certs.ca.cert)
    shutil.copy(certs.broker.cert, cert)
    shutil.copy(certs.broker.key, key)
    assert server.reload_if_changed() and server.reloads == 1
    after = peer_certificate(echo.port, certs.ca.cert)
    assert before != after and after == ssl.PEM_cert_to_DER_cert(certs.broker.cert.read_text())
    assert not server.reload_if_changed()  # nothing changed since


def test_a_broken_new_key_keeps_the_old_certificate(certs: TestCertificates, tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    shutil.copy(certs.proxy.cert, cert)
    shutil.copy(certs.proxy.key, key)
    server = ServerTls(ListenerTlsConfig(str(cert), str(key)))
    shutil.copy(certs.broker.key, key)  # a key that does not match the certificate
    assert not server.reload()
    echo = TlsEcho(server.listening)
    assert peer_certificate(echo.port, certs.ca.cert) == ssl.PEM_cert_to_DER_cert(certs.proxy.cert.read_text())


def test_an_expired_server_certificate_is_refused_by_a_verifying_client(certs: TestCertificates) -> None:
    echo = TlsEcho(listener_context(ListenerTlsConfig(str(certs.expired.cert), str(certs.expired.key))))
    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        peer_certificate(echo.port, certs.ca.cert)


def test_missing_files_are_config_errors_naming_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        listener_context(ListenerTlsConfig(str(tmp_path / "no.pem"), str(tmp_path / "no.key")))
    assert caught.value.path == "listeners.tls.cert_file"
    with pytest.raises(ConfigError) as caught:
        upstream_context(ClusterTlsConfig(ca_file=str(tmp_path / "no-ca.pem")), "clusters.B.tls")
    assert caught.value.path == "clusters.B.tls.ca_file"


def test_upstream_context_verifies_hostname_by_default_and_can_be_told_not_to(certs: TestCertificates) -> None:
    checked = upstream_context(ClusterTlsConfig(ca_file=str(certs.ca.cert)), "clusters.A.tls")
    relaxed = upstream_context(ClusterTlsConfig(ca_file=str(certs.ca.cert), verify_hostname=False), "clusters.A.tls")
    assert checked.check_hostname and checked.verify_mode == ssl.CERT_REQUIRED
    assert not relaxed.check_hostname and relaxed.verify_mode == ssl.CERT_REQUIRED


def test_mtls_listener_requires_a_client_certificate_only_when_told_to(certs: TestCertificates) -> None:
    base = {"cert_file": str(certs.proxy.cert), "key_file": str(certs.proxy.key), "client_ca_file": str(certs.ca.cert)}
    assert listener_context(ListenerTlsConfig(**base, require_client_cert=True)).verify_mode == ssl.CERT_REQUIRED
    assert listener_context(ListenerTlsConfig(**base)).verify_mode == ssl.CERT_OPTIONAL
    plain = ListenerTlsConfig(str(certs.proxy.cert), str(certs.proxy.key))
    assert listener_context(plain).verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize("served", ["untrusted", "expired"])
def test_the_proxys_own_connection_names_a_bad_broker_certificate(certs: TestCertificates, served: str) -> None:
    pem = getattr(certs, served)
    echo = TlsEcho(listener_context(ListenerTlsConfig(str(pem.cert), str(pem.key))))
    security = UpstreamSecurity(upstream_context(ClusterTlsConfig(ca_file=str(certs.ca.cert)), "clusters.A.tls"))

    async def connect() -> None:
        await KafkaConnection.open("127.0.0.1", echo.port, timeout_s=5, security=security)

    with pytest.raises(KafkaClientError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(connect())


def test_a_tls_client_hello_read_as_a_kafka_frame_is_refused_as_looking_like_tls() -> None:
    """Bytes 16 03 01 xx read as a size prefix ask for ~369 MB: refused before anything is kept."""
    splitter = FrameSplitter(MAX_FRAME_BYTES)
    splitter.feed(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]))
    with pytest.raises(FrameTooLarge, match="looks like TLS"):
        splitter.next_frame()
    assert splitter.buffered_bytes < 64


def test_an_ordinary_oversized_frame_is_not_called_tls() -> None:
    assert "TLS" not in str(FrameTooLarge(200_000_000, 104_857_600))
    assert not looks_like_tls(0x00000100) and looks_like_tls(0x16030100) and looks_like_tls(0x15030300)
