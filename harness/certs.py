"""Certificates made in the test run with the `openssl` CLI (the same tool an operator would use).

One CA signs everything a TLS test needs: a broker certificate and a proxy certificate with
SAN 127.0.0.1/localhost, a client certificate (mTLS), an expired one, and a second CA that nobody
trusts. Keys are unencrypted PKCS#8 EC P-256, the form Kafka's PEM keystore reads directly.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

_CA_CONFIG = """[ca]
default_ca = d
[d]
database = {dir}/index
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = p
unique_subject = no
[p]
commonName = supplied
[leaf]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {san}
"""
LOOPBACK_SAN = "IP:127.0.0.1, DNS:localhost"


@dataclass(frozen=True)
class Pem:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path

    def chain_text(self) -> str:
        return self.cert.read_text()

    def key_text(self) -> str:
        return self.key.read_text()


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, text=True)


class CertificateAuthority:
    """A throwaway CA in `directory`; `issue` signs leaf certificates valid for a chosen window."""

    def __init__(self, directory: Path, name: str = "kfp-test-ca") -> None:
        self.directory = directory
        self.name = name
        directory.mkdir(parents=True, exist_ok=True)
        self.pem = Pem(directory / f"{name}.pem", directory / f"{name}.key")
        _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", str(self.pem.key), "-out", str(self.pem.cert), "-subj", f"/CN={name}", "-days", "30",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self._db = directory / f"{name}-db"
        self._db.mkdir(exist_ok=True)
        (self._db / "index").write_text("")
        (self._db / "serial").write_text("1000\n")

    def issue(self, name: str, san: str = LOOPBACK_SAN, start: str | None = None, end: str | None = None) -> Pem:
        """A leaf certificate; `start`/`end` as YYYYMMDDHHMMSSZ (an expired one for negative tests)."""
        pem = Pem(self.directory / f"{name}.pem", self.directory / f"{name}.key")
        csr = self.directory / f"{name}.csr"
        _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                 "-keyout", str(pem.key), "-out", str(csr), "-subj", f"/CN={name}")
        config = self.directory / f"{name}.cnf"
        config.write_text(_CA_CONFIG.format(dir=self._db, san=san))
        window = ["-startdate", start or "20200101000000Z", "-enddate", end or "20991231000000Z"]
        _openssl("ca", "-batch", "-config", str(config), "-extensions", "leaf", "-cert", str(self.pem.cert),
                 "-keyfile", str(self.pem.key), "-in", str(csr), "-out", str(pem.cert), "-notext", *window)
        return pem


@dataclass(frozen=True)
class TestCertificates:
    """Everything the TLS tests use, made once per session."""

    __test__ = False  # not a pytest class

    ca: Pem
    broker: Pem
    proxy: Pem
    client: Pem
    expired: Pem
    untrusted_ca: Pem
    untrusted: Pem


def make_test_certificates(directory: Path) -> TestCertificates:
    ca = CertificateAuthority(directory / "ca")
    other = CertificateAuthority(directory / "other", "kfp-untrusted-ca")
    return TestCertificates(
        ca=ca.pem, broker=ca.issue("broker"), proxy=ca.issue("proxy"), client=ca.issue("client", "DNS:client"),
        expired=ca.issue("expired", start="20200101000000Z", end="20200102000000Z"),
        untrusted_ca=other.pem, untrusted=other.issue("impostor"),
    )
