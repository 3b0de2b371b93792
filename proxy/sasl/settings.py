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

CLIENT_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")  # what the proxy logs in upstream with
OAUTHBEARER = "OAUTHBEARER"
TERMINATED_MECHANISMS = (*CLIENT_MECHANISMS, OAUTHBEARER)  # what a terminating listener can check
DEFAULT_CLOCK_SKEW_S = 30


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
class OAuthBearerSettings:
    """`listeners.sasl.oauthbearer`: how a terminating listener checks an OAUTHBEARER token (a JWT).

    The signature against a key of `jwks_file` (re-read when it changes), `exp` and `nbf` with
    `clock_skew_s` of leeway, `iss` and `aud` when set here; the principal is `principal_claim`."""

    jwks_file: str
    issuer: str | None = None
    audience: str | None = None
    principal_claim: str = "sub"
    clock_skew_s: int = DEFAULT_CLOCK_SKEW_S


@dataclass(frozen=True, slots=True)
class ListenerSasl:
    """`listeners.sasl`: passthrough relays the client's own SASL exchange to the active cluster;
    terminate authenticates clients at the proxy against `credentials_file` (salted SCRAM entries)
    with the enabled `mechanisms` (OAUTHBEARER tokens against `oauthbearer`), and logs each upstream
    connection in with the cluster's login."""

    mode: str
    mechanisms: tuple[str, ...] = ()
    credentials_file: str | None = None
    oauthbearer: OAuthBearerSettings | None = None

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


def _string(d: dict[str, Any], key: str, path: str, error: type[Exception], required: bool = False) -> str | None:
    value = d.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise error(f"{path}.{key}", f"{'required: ' if required else ''}a non-empty string, got {value!r}")
    return value


def parse_oauthbearer(d: dict[str, Any], path: str, error: type[Exception]) -> OAuthBearerSettings:
    allowed = {"jwks_file", "issuer", "audience", "principal_claim", "clock_skew_s"}
    for key in d:
        if key not in allowed:
            raise error(f"{path}.{key}", f"unknown key; expected one of {sorted(allowed)}")
    skew = d.get("clock_skew_s", DEFAULT_CLOCK_SKEW_S)
    if not isinstance(skew, int) or isinstance(skew, bool) or not 0 <= skew <= 600:
        raise error(f"{path}.clock_skew_s", f"expected whole seconds from 0 to 600, got {skew!r}")
    jwks_file = _string(d, "jwks_file", path, error, required=True)
    assert jwks_file is not None
    return OAuthBearerSettings(jwks_file, _string(d, "issuer", path, error), _string(d, "audience", path, error),
                               _string(d, "principal_claim", path, error) or "sub", skew)


def parse_listener(d: dict[str, Any], path: str, error: type[Exception]) -> ListenerSasl:
    for key in d:
        if key not in {"mode", "mechanisms", "credentials_file", "oauthbearer"}:
            raise error(f"{path}.{key}", "unknown key; expected mode, mechanisms, credentials_file, oauthbearer")
    mode = d.get("mode")
    if mode == "passthrough":
        for key in ("mechanisms", "credentials_file", "oauthbearer"):
            if key in d:
                raise error(f"{path}.{key}", "only for mode: terminate (passthrough relays the brokers' own)")
        return ListenerSasl(mode)
    if mode != "terminate":
        raise error(f"{path}.mode", f"expected passthrough or terminate, got {mode!r}")
    oauth = d.get("oauthbearer")
    if oauth is not None and not isinstance(oauth, dict):
        raise error(f"{path}.oauthbearer", "expected a mapping (jwks_file, issuer, audience, principal_claim)")
    oauthbearer = parse_oauthbearer(oauth, f"{path}.oauthbearer", error) if oauth is not None else None
    mechanisms = d.get("mechanisms", _default_mechanisms(d))
    if not isinstance(mechanisms, list) or not mechanisms or any(m not in TERMINATED_MECHANISMS for m in mechanisms):
        raise error(f"{path}.mechanisms",
                    f"expected a non-empty list of {list(TERMINATED_MECHANISMS)}, got {mechanisms!r}")
    if (OAUTHBEARER in mechanisms) != (oauthbearer is not None):
        raise error(f"{path}.oauthbearer", "set exactly when mechanisms include OAUTHBEARER (it names the JWKS file)")
    file = d.get("credentials_file")
    wants_file = any(m in CLIENT_MECHANISMS for m in mechanisms)
    if wants_file and (not isinstance(file, str) or not file):
        raise error(f"{path}.credentials_file", "required for mode: terminate with PLAIN or SCRAM: a file of salted "
                                                "SCRAM entries (kafka-failover-proxy scram-credential prints them)")
    if not wants_file and file is not None:
        raise error(f"{path}.credentials_file", "only with PLAIN or SCRAM among the mechanisms")
    return ListenerSasl(mode, tuple(dict.fromkeys(mechanisms)), file, oauthbearer)


def _default_mechanisms(d: dict[str, Any]) -> list[str]:
    """PLAIN and SCRAM when there is a credentials file, OAUTHBEARER when there is a JWKS."""
    with_file = list(CLIENT_MECHANISMS) if "credentials_file" in d or "oauthbearer" not in d else []
    return with_file + ([OAUTHBEARER] if "oauthbearer" in d else [])
