"""SASL settings of the config: a cluster's service login and a listener's mode, parsed not loaded.

Only where a secret lives is kept (a file path or an environment variable's name); the secret is
read when a connection logs in, so it is in no dataclass, repr, log line or admin answer, and a
rotated password file takes effect on the next connection.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLIENT_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SecretUnavailable(Exception):
    """The configured password file or variable cannot be read; the text names where, not what."""


@dataclass(frozen=True, slots=True)
class SaslLogin:
    """How the proxy logs in to one cluster (`clusters.X.sasl`)."""

    mechanism: str
    username: str
    password_file: str | None = None
    password_env: str | None = None

    def password(self) -> str:
        if self.password_file is not None:
            try:
                return Path(self.password_file).read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise SecretUnavailable(f"password_file {self.password_file}: {exc.strerror}") from None
        value = os.environ.get(self.password_env or "")
        if value is None:
            raise SecretUnavailable(f"password_env {self.password_env} is not set")
        return value


@dataclass(frozen=True, slots=True)
class ListenerSasl:
    """`listeners.sasl`: passthrough relays the client's own SASL exchange to the active cluster;
    terminate authenticates clients at the proxy against `credentials_file` (salted SCRAM entries)
    with the enabled `mechanisms`, and logs each upstream connection in with the cluster's login."""

    mode: str
    mechanisms: tuple[str, ...] = ()
    credentials_file: str | None = None

    @property
    def terminates(self) -> bool:
        return self.mode == "terminate"


def parse_login(d: dict[str, Any], path: str, error: type[Exception]) -> SaslLogin:
    """`error(path, message)` is the config's ConfigError (kept out of this module's imports)."""
    allowed = {"mechanism", "username", "password_file", "password_env"}
    for key in d:
        if key not in allowed:
            raise error(f"{path}.{key}", f"unknown key; expected one of {sorted(allowed)}")
    mechanism = d.get("mechanism")
    if mechanism not in CLIENT_MECHANISMS:
        raise error(f"{path}.mechanism", f"expected one of {list(CLIENT_MECHANISMS)}, got {mechanism!r}")
    username = d.get("username")
    if not isinstance(username, str) or not username:
        raise error(f"{path}.username", "required: a non-empty string")
    file, env = d.get("password_file"), d.get("password_env")
    if (file is None) == (env is None):
        raise error(f"{path}.password_file", "set exactly one of password_file or password_env")
    for key, value in (("password_file", file), ("password_env", env)):
        if value is not None and (not isinstance(value, str) or not value):
            raise error(f"{path}.{key}", "expected a non-empty string")
    return SaslLogin(mechanism, username, file, env)


def parse_listener(d: dict[str, Any], path: str, error: type[Exception]) -> ListenerSasl:
    for key in d:
        if key not in {"mode", "mechanisms", "credentials_file"}:
            raise error(f"{path}.{key}", "unknown key; expected mode, mechanisms, credentials_file")
    mode = d.get("mode")
    if mode == "passthrough":
        for key in ("mechanisms", "credentials_file"):
            if key in d:
                raise error(f"{path}.{key}", "only for mode: terminate (passthrough relays the brokers' own)")
        return ListenerSasl(mode)
    if mode != "terminate":
        raise error(f"{path}.mode", f"expected passthrough or terminate, got {mode!r}")
    mechanisms = d.get("mechanisms", list(CLIENT_MECHANISMS))
    if not isinstance(mechanisms, list) or not mechanisms or any(m not in CLIENT_MECHANISMS for m in mechanisms):
        raise error(f"{path}.mechanisms", f"expected a non-empty list of {list(CLIENT_MECHANISMS)}, got {mechanisms!r}")
    file = d.get("credentials_file")
    if not isinstance(file, str) or not file:
        raise error(f"{path}.credentials_file", "required for mode: terminate: a file of salted SCRAM entries "
                                                "(kafka-failover-proxy scram-credential prints them)")
    return ListenerSasl(mode, tuple(dict.fromkeys(mechanisms)), file)
