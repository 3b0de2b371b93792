"""Proxy configuration: parsed, not loaded.

`parse(raw)` turns the plain data read from YAML into frozen dataclasses and raises `ConfigError`
naming the exact YAML path of the first problem (`clusters.B.bootstrap_servers[0]`), so an operator
fixes a typo from one line of output. Only `load(path)` touches the file system; unknown keys are
errors because a misspelt limit that silently keeps its default is worse than a refusal to start.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from proxy.sasl.settings import ListenerSasl, SaslLogin, parse_listener, parse_login

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
_REQUIRED: Any = object()
MAX_FRAME_BYTES = 0x14000000 - 1
"""320 MiB - 1: any TLS record read as a size prefix (0x14..0x17 0x03 ...) is above it, so a TLS
client on a plaintext port is always refused by the frame-size limit, never buffered."""
TOKEN_KEYS = ("read_token_file", "read_token_env", "operate_token_file", "operate_token_env")


class ConfigError(Exception):
    """A configuration problem at one YAML path (`listeners.bootstrap_port`)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class VirtualClusterConfig:
    cluster_id: str


@dataclass(frozen=True, slots=True)
class ListenerTlsConfig:
    """TLS towards clients: PEM files, reloaded on SIGHUP or when they change."""

    cert_file: str
    key_file: str
    client_ca_file: str | None = None
    """With it, client certificates are verified against this CA (mTLS)."""
    require_client_cert: bool = False


@dataclass(frozen=True, slots=True)
class ClusterTlsConfig:
    """TLS towards one cluster: its own CA, an optional client certificate, hostname checked."""

    ca_file: str | None = None
    """None: the system's trust store."""
    cert_file: str | None = None
    key_file: str | None = None
    verify_hostname: bool = True


@dataclass(frozen=True, slots=True)
class ListenersConfig:
    bind_host: str
    advertised_host: str
    bootstrap_port: int
    broker_port_base: int
    max_brokers: int
    sasl: ListenerSasl | None = None  # clients' SASL: passthrough relays it to the active cluster
    tls: ListenerTlsConfig | None = None


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    name: str
    bootstrap_servers: tuple[HostPort, ...]
    sasl: SaslLogin | None = None  # the proxy's own login to this cluster (its service credentials)
    tls: ClusterTlsConfig | None = None


@dataclass(frozen=True, slots=True)
class MirrorConfig:
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class AdminConfig:
    bind_host: str = "127.0.0.1"
    port: int = 9300
    token_file: str | None = None
    token_env: str | None = None
    audit_log: str | None = None
    tls: ListenerTlsConfig | None = None
    """The admin API over HTTPS (cert_file, key_file; client_ca_file for mTLS)."""
    read_token_file: str | None = None
    read_token_env: str | None = None
    operate_token_file: str | None = None
    operate_token_env: str | None = None


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    max_frame_bytes: int = 104_857_600
    max_client_connections: int = 10_000
    idle_timeout_s: float = 600
    write_high_water_bytes: int = 4_194_304
    write_low_water_bytes: int = 1_048_576
    connect_timeout_s: float = 10
    max_buffered_bytes: int = 268_435_456
    """Bytes buffered across every connection; above it the proxy stops reading until 3/4 of it."""


@dataclass(frozen=True, slots=True)
class SwitchConfig:
    drain_timeout_s: float = 10
    catch_up_timeout_s: float = 60
    fetch_hold_timeout_s: float = 30
    hold_fenced_produce: bool = False
    """Hold a switch's fenced Produce unanswered until the flip instead of refusing it (issue 10):
    opt-in until the whole suite and the drill have run with it."""
    match_window_records: int = 20_000
    """How far behind its partition's end a group may be for the proxy to prove its position by
    comparing records on both clusters (each side reads at most this many records)."""


@dataclass(frozen=True, slots=True)
class StateConfig:
    """Where the active cluster, the switch epoch, fences and switch records outlive the process."""

    backend: str = "file"
    path: str | None = None
    """The state file; None keeps the state in memory only (a restart starts from `active`)."""
    endpoints: tuple[str, ...] = ()
    """etcd client URLs (backend etcd)."""
    prefix: str | None = None
    """etcd key prefix (backend etcd); None: /kafka-failover-proxy/<virtual cluster id>."""
    lease_ttl_s: float = 10
    """etcd lease of each instance; out of reach for 2/3 of it, an instance fences produce (fail closed)."""


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "INFO"
    json: bool = False


@dataclass(frozen=True, slots=True)
class ReadinessConfig:
    transfer_price_per_gb: float | None = None  # cross-region transfer price, for the cost gate


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    virtual_cluster: VirtualClusterConfig
    listeners: ListenersConfig
    clusters: Mapping[str, ClusterConfig]
    active: str
    mirrors: tuple[MirrorConfig, ...] = ()
    admin: AdminConfig = field(default_factory=AdminConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    switch: SwitchConfig = field(default_factory=SwitchConfig)
    state: StateConfig = field(default_factory=StateConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    readiness: ReadinessConfig = field(default_factory=ReadinessConfig)

    def broker_port(self, node: int) -> int:
        """The proxy port of virtual node `node` (fixed for the life of the deployment)."""
        if not 0 <= node < self.listeners.max_brokers:
            raise ValueError(f"virtual node {node} outside 0..{self.listeners.max_brokers - 1}")
        return self.listeners.broker_port_base + node

    def has_mirror(self, source: str, target: str) -> bool:
        return any(m.source == source and m.target == target for m in self.mirrors)


# -- entry points ---------------------------------------------------------------------------------------


def load(path: str | os.PathLike[str]) -> ProxyConfig:
    """Read and parse a YAML file; unreadable files and YAML syntax errors are ConfigErrors too."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), f"cannot read config file: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), f"invalid YAML: {exc}") from None
    return parse(raw)


def parse(raw: object) -> ProxyConfig:
    """Build a ProxyConfig from plain data, or raise ConfigError at the first bad key."""
    top = _section(raw, "", ("virtual_cluster", "listeners", "clusters", "active", "mirrors", "admin",
                             "limits", "switch", "state", "logging", "readiness"))
    clusters = _clusters(top.get("clusters", _REQUIRED))
    config = ProxyConfig(
        virtual_cluster=_virtual_cluster(top.get("virtual_cluster", {})),
        listeners=_listeners(top.get("listeners", {})),
        clusters=clusters,
        active=_cluster_ref(top, "active", "", clusters),
        mirrors=_mirrors(top.get("mirrors", []), clusters),
        admin=_admin(top.get("admin", {})),
        limits=_limits(top.get("limits", {})),
        switch=_switch(top.get("switch", {})),
        state=_state(top.get("state", {})),
        logging=_logging(top.get("logging", {})),
        readiness=_readiness(top.get("readiness", {})),
    )
    _check_ports(config)
    return config


def read_admin_token(config: ProxyConfig) -> str | None:
    """The operate token (kept under its old name: callers before the read/operate split use it)."""
    return read_admin_tokens(config).operate


@dataclass(frozen=True, slots=True)
class AdminTokens:
    """The admin API's two bearer tokens: `read` sees status/metrics/records, `operate` also acts.

    `operate` comes from `operate_token_*`, else the older `token_*` keys, so existing configs keep
    working with their one token as the operate token (which also reads).
    """

    read: str | None = None
    operate: str | None = None


def read_admin_tokens(config: ProxyConfig) -> AdminTokens:
    """Both tokens, read now from their files or environment variables.

    A token that is configured but missing or empty is a ConfigError, so a deployment never runs
    with an admin API it believes is protected. Equal tokens are refused: the split would be a lie.
    """
    admin = config.admin
    operate = _token(admin.operate_token_file, admin.operate_token_env, "admin.operate_token")
    if operate is None:
        operate = _token(admin.token_file, admin.token_env, "admin.token")
    read = _token(admin.read_token_file, admin.read_token_env, "admin.read_token")
    if read is not None and read == operate:
        raise ConfigError("admin.read_token_file" if admin.read_token_file else "admin.read_token_env",
                          "the read token equals the operate token; give them different values")
    return AdminTokens(read=read, operate=operate)


def _token(file: str | None, env: str | None, path: str) -> str | None:
    if file is not None:
        try:
            token = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}_file", f"cannot read token file: {exc}") from None
        if not token:
            raise ConfigError(f"{path}_file", f"token file {file} is empty")
        return token
    if env is not None:
        token = os.environ.get(env, "").strip()
        if not token:
            raise ConfigError(f"{path}_env", f"environment variable {env} is unset or empty")
        return token
    return None


# -- sections -------------------------------------------------------------------------------------------


def _virtual_cluster(raw: object) -> VirtualClusterConfig:
    d = _section(raw, "virtual_cluster", ("cluster_id",))
    return VirtualClusterConfig(cluster_id=_name(d, "cluster_id", "virtual_cluster"))


def _listeners(raw: object) -> ListenersConfig:
    p = "listeners"
    d = _section(raw, p, ("bind_host", "advertised_host", "bootstrap_port", "broker_port_base",
                          "max_brokers", "sasl", "tls"))
    advertised = _str(d, "advertised_host", p, "127.0.0.1")
    if advertised in WILDCARD_HOSTS:
        raise ConfigError(f"{p}.advertised_host", f"clients cannot dial {advertised!r}; give a routable host")
    return ListenersConfig(
        bind_host=_str(d, "bind_host", p, "127.0.0.1", allow_empty=True),
        advertised_host=advertised,
        bootstrap_port=_int(d, "bootstrap_port", p, _REQUIRED, 0, 65535),
        broker_port_base=_int(d, "broker_port_base", p, _REQUIRED, 1, 65535),
        max_brokers=_int(d, "max_brokers", p, 8, 1, 1024),
        sasl=parse_listener(_section(d["sasl"], f"{p}.sasl", None), f"{p}.sasl", ConfigError) if "sasl" in d else None,
        tls=_listener_tls(d.get("tls"), f"{p}.tls"),
    )


def _listener_tls(raw: object, p: str) -> ListenerTlsConfig | None:
    if raw is None:
        return None
    d = _section(raw, p, ("cert_file", "key_file", "client_ca_file", "require_client_cert"))
    tls = ListenerTlsConfig(
        cert_file=_str(d, "cert_file", p, _REQUIRED),
        key_file=_str(d, "key_file", p, _REQUIRED),
        client_ca_file=_str(d, "client_ca_file", p, None),
        require_client_cert=_bool(d, "require_client_cert", p, False),
    )
    if tls.require_client_cert and tls.client_ca_file is None:
        raise ConfigError(f"{p}.require_client_cert", "needs client_ca_file to verify client certificates")
    return tls


def _cluster_tls(raw: object, p: str) -> ClusterTlsConfig | None:
    if raw is None:
        return None
    d = _section(raw, p, ("ca_file", "cert_file", "key_file", "verify_hostname"))
    tls = ClusterTlsConfig(
        ca_file=_str(d, "ca_file", p, None),
        cert_file=_str(d, "cert_file", p, None),
        key_file=_str(d, "key_file", p, None),
        verify_hostname=_bool(d, "verify_hostname", p, True),
    )
    if tls.key_file is not None and tls.cert_file is None:
        raise ConfigError(f"{p}.cert_file", "key_file is given without cert_file")
    return tls


def _clusters(raw: object) -> dict[str, ClusterConfig]:
    if raw is _REQUIRED:
        raise ConfigError("clusters", "required: at least one upstream cluster")
    d = _section(raw, "clusters", None)
    if not d:
        raise ConfigError("clusters", "at least one upstream cluster is required")
    clusters = {}
    for name, body in d.items():
        if not NAME.match(name):
            raise ConfigError(f"clusters.{name}", "cluster names are 1..64 characters of [A-Za-z0-9_-]")
        clusters[name] = _cluster(name, body)
    return clusters


def _cluster(name: str, raw: object) -> ClusterConfig:
    p = f"clusters.{name}"
    d = _section(raw, p, ("bootstrap_servers", "tls", "sasl"))
    sasl = parse_login(_section(d["sasl"], f"{p}.sasl", None), f"{p}.sasl", ConfigError) if "sasl" in d else None
    servers = _list(d, "bootstrap_servers", p, _REQUIRED)
    if not servers:
        raise ConfigError(f"{p}.bootstrap_servers", "at least one host:port is required")
    return ClusterConfig(name, tuple(_host_port(server, f"{p}.bootstrap_servers[{i}]")
                                     for i, server in enumerate(servers)), sasl,
                         _cluster_tls(d.get("tls"), f"{p}.tls"))


def _mirrors(raw: object, clusters: Mapping[str, ClusterConfig]) -> tuple[MirrorConfig, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ConfigError("mirrors", f"expected a list of {{source, target}}, got {_kind(raw)}")
    mirrors: list[MirrorConfig] = []
    for i, item in enumerate(raw):
        p = f"mirrors[{i}]"
        d = _section(item, p, ("source", "target"))
        mirror = MirrorConfig(_cluster_ref(d, "source", p, clusters), _cluster_ref(d, "target", p, clusters))
        if mirror.source == mirror.target:
            raise ConfigError(f"{p}.target", "a mirror's target must differ from its source")
        if mirror in mirrors:
            raise ConfigError(p, f"duplicate mirror {mirror.source} -> {mirror.target}")
        mirrors.append(mirror)
    return tuple(mirrors)


def _admin(raw: object) -> AdminConfig:
    p = "admin"
    d = _section(raw, p, ("bind_host", "port", "token_file", "token_env", "audit_log", "tls", *TOKEN_KEYS))
    admin = AdminConfig(
        bind_host=_str(d, "bind_host", p, "127.0.0.1", allow_empty=True),
        port=_int(d, "port", p, 9300, 0, 65535),
        token_file=_str(d, "token_file", p, None),
        token_env=_str(d, "token_env", p, None),
        audit_log=_str(d, "audit_log", p, None),
        tls=_listener_tls(d.get("tls"), f"{p}.tls"),
        **{key: _str(d, key, p, None) for key in TOKEN_KEYS},
    )
    for prefix in ("", "read_", "operate_"):
        if getattr(admin, f"{prefix}token_file") is not None and getattr(admin, f"{prefix}token_env") is not None:
            raise ConfigError(f"{p}.{prefix}token_env", f"set either {prefix}token_file or {prefix}token_env, not both")
    if (admin.operate_token_file or admin.operate_token_env) and (admin.token_file or admin.token_env):
        raise ConfigError(f"{p}.operate_token_file", "token_file/token_env is the older name of the operate "
                          "token; set one or the other, not both")
    return admin


def _limits(raw: object) -> LimitsConfig:
    p = "limits"
    d = _section(raw, p, ("max_frame_bytes", "max_client_connections", "idle_timeout_s",
                          "write_high_water_bytes", "write_low_water_bytes", "connect_timeout_s",
                          "max_buffered_bytes"))
    dflt, big = LimitsConfig(), 2**31 - 1
    limits = LimitsConfig(
        max_frame_bytes=_int(d, "max_frame_bytes", p, dflt.max_frame_bytes, 1024, MAX_FRAME_BYTES),
        max_client_connections=_int(d, "max_client_connections", p, dflt.max_client_connections, 1, big),
        idle_timeout_s=_seconds(d, "idle_timeout_s", p, dflt.idle_timeout_s),
        write_high_water_bytes=_int(d, "write_high_water_bytes", p, dflt.write_high_water_bytes, 1, big),
        write_low_water_bytes=_int(d, "write_low_water_bytes", p, dflt.write_low_water_bytes, 0, big),
        connect_timeout_s=_seconds(d, "connect_timeout_s", p, dflt.connect_timeout_s),
        max_buffered_bytes=_int(d, "max_buffered_bytes", p, dflt.max_buffered_bytes, 1 << 20, 2**62),
    )
    if limits.write_low_water_bytes >= limits.write_high_water_bytes:
        raise ConfigError(f"{p}.write_low_water_bytes",
                          f"must be below write_high_water_bytes ({limits.write_high_water_bytes})")
    return limits


def _switch(raw: object) -> SwitchConfig:
    p = "switch"
    d = _section(raw, p, ("drain_timeout_s", "catch_up_timeout_s", "fetch_hold_timeout_s", "match_window_records",
                                 "hold_fenced_produce"))
    dflt = SwitchConfig()
    return SwitchConfig(
        drain_timeout_s=_seconds(d, "drain_timeout_s", p, dflt.drain_timeout_s),
        catch_up_timeout_s=_seconds(d, "catch_up_timeout_s", p, dflt.catch_up_timeout_s),
        fetch_hold_timeout_s=_seconds(d, "fetch_hold_timeout_s", p, dflt.fetch_hold_timeout_s),
        match_window_records=_int(d, "match_window_records", p, dflt.match_window_records, 0, 10_000_000),
        hold_fenced_produce=_bool(d, "hold_fenced_produce", p, dflt.hold_fenced_produce),
    )


def _state(raw: object) -> StateConfig:
    p = "state"
    d = _section(raw, p, ("backend", "path", "endpoints", "prefix", "lease_ttl_s"))
    backend = _str(d, "backend", p, "file")
    if backend not in ("file", "etcd"):
        raise ConfigError(f"{p}.backend", f"expected 'file' or 'etcd', got {backend!r}")
    endpoints = tuple(_list(d, "endpoints", p, []))
    for i, url in enumerate(endpoints):
        if not isinstance(url, str) or not re.match(r"^https?://[^/\s]+/?$", url):
            raise ConfigError(f"{p}.endpoints[{i}]", f"expected an etcd client URL like http://host:2379, got {url!r}")
    if backend == "etcd" and not endpoints:
        raise ConfigError(f"{p}.endpoints", "backend etcd needs at least one endpoint")
    if backend == "etcd" and "path" in d:
        raise ConfigError(f"{p}.path", "a state file is for backend file; etcd keeps the state under `prefix`")
    prefix = _str(d, "prefix", p, None)
    if prefix is not None and not prefix.startswith("/"):
        raise ConfigError(f"{p}.prefix", f"expected a key prefix starting with '/', got {prefix!r}")
    return StateConfig(backend=backend, path=_str(d, "path", p, None), endpoints=endpoints, prefix=prefix,
                       lease_ttl_s=_seconds(d, "lease_ttl_s", p, StateConfig().lease_ttl_s))


def _logging(raw: object) -> LoggingConfig:
    d = _section(raw, "logging", ("level", "json"))
    level = _str(d, "level", "logging", "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError("logging.level", f"expected one of {', '.join(LOG_LEVELS)}, got {d['level']!r}")
    return LoggingConfig(level=level, json=_bool(d, "json", "logging", False))


def _readiness(raw: object) -> ReadinessConfig:
    d = _section(raw, "readiness", ("transfer_price_per_gb",))
    price = d.get("transfer_price_per_gb")
    if price is None:
        return ReadinessConfig()
    if isinstance(price, bool) or not isinstance(price, int | float) or not math.isfinite(price) or price < 0:
        raise ConfigError("readiness.transfer_price_per_gb", f"expected a price >= 0, got {price!r}")
    return ReadinessConfig(float(price))


def _check_ports(config: ProxyConfig) -> None:
    """Every listener needs its own port: broker slots, bootstrap and admin must not overlap."""
    lst = config.listeners
    last = lst.broker_port_base + lst.max_brokers - 1
    if last > 65535:
        raise ConfigError("listeners.max_brokers",
                          f"broker ports {lst.broker_port_base}..{last} run past 65535")
    slots = range(lst.broker_port_base, last + 1)
    overlap = f"overlaps the broker ports {lst.broker_port_base}..{last}"
    if lst.bootstrap_port in slots:
        raise ConfigError("listeners.bootstrap_port", f"{lst.bootstrap_port} {overlap}")
    if config.admin.port in slots:
        raise ConfigError("admin.port", f"{config.admin.port} {overlap}")
    if config.admin.port != 0 and config.admin.port == lst.bootstrap_port:
        raise ConfigError("admin.port", f"{config.admin.port} is also listeners.bootstrap_port")


# -- typed readers: each names the full path of what it rejects ------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _section(raw: object, path: str, allowed: tuple[str, ...] | None) -> dict[str, Any]:
    """A mapping with string keys and, when `allowed` is given, no keys outside it."""
    if raw is None and path:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(path or "(top level)", f"expected a mapping, got {_kind(raw)}")
    for key in raw:
        if not isinstance(key, str):
            raise ConfigError(_join(path, str(key)), "keys must be strings")
        if allowed is not None and key not in allowed:
            raise ConfigError(_join(path, key), f"unknown key (known: {', '.join(allowed)})")
    return raw


def _get(d: dict[str, Any], key: str, path: str, default: Any) -> Any:
    if key not in d or (d[key] is None and default is not None):
        if default is _REQUIRED:
            raise ConfigError(_join(path, key), "required")
        return default
    return d[key]


def _str(d: dict[str, Any], key: str, path: str, default: Any, allow_empty: bool = False) -> Any:
    value = _get(d, key, path, default)
    if value is None:
        return None
    if not isinstance(value, str) or (not value and not allow_empty):
        raise ConfigError(_join(path, key), f"expected a non-empty string, got {_kind(value)}")
    return value


def _name(d: dict[str, Any], key: str, path: str) -> str:
    value = _str(d, key, path, _REQUIRED)
    if not NAME.match(value):
        raise ConfigError(_join(path, key), f"expected 1..64 characters of [A-Za-z0-9_-], got {value!r}")
    return str(value)


def _int(d: dict[str, Any], key: str, path: str, default: Any, low: int, high: int) -> int:
    value = _get(d, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(_join(path, key), f"expected an integer, got {_kind(value)}")
    if not low <= value <= high:
        raise ConfigError(_join(path, key), f"expected {low}..{high}, got {value}")
    return value


def _seconds(d: dict[str, Any], key: str, path: str, default: float) -> float:
    value = _get(d, key, path, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(_join(path, key), f"expected a number of seconds, got {_kind(value)}")
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(_join(path, key), f"expected a positive number of seconds, got {value}")
    return float(value)


def _bool(d: dict[str, Any], key: str, path: str, default: bool) -> bool:
    value = _get(d, key, path, default)
    if not isinstance(value, bool):
        raise ConfigError(_join(path, key), f"expected true or false, got {_kind(value)}")
    return value


def _list(d: dict[str, Any], key: str, path: str, default: Any) -> list[Any]:
    value = _get(d, key, path, default)
    if not isinstance(value, list):
        raise ConfigError(_join(path, key), f"expected a list, got {_kind(value)}")
    return value


def _cluster_ref(d: dict[str, Any], key: str, path: str, clusters: Mapping[str, ClusterConfig]) -> str:
    value = _str(d, key, path, _REQUIRED)
    if value not in clusters:
        raise ConfigError(_join(path, key), f"unknown cluster {value!r} (known: {', '.join(clusters)})")
    return str(value)


def _host_port(value: object, path: str) -> HostPort:
    """`host:port` or `[v6]:port`, port 1..65535."""
    if not isinstance(value, str):
        raise ConfigError(path, f"expected host:port, got {_kind(value)}")
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([^\s:\[\]]+):(\d{1,5})", value)
    if match is None:
        raise ConfigError(path, f"expected host:port, got {value!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        raise ConfigError(path, f"port must be 1..65535, got {port}")
    return HostPort(host, port)
