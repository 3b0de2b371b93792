"""The admin HTTP API (aiohttp, in the proxy's own loop).

Routes: GET /metrics, /healthz, /readyz, and under /v1: GET status, GET readiness?target=, POST switch, GET switch/{id},
POST fence, POST unfence, POST transactions/abort (a dead producer's transaction blocking a
switch). The admin layer knows the proxy only through `ProxyControl`, so it is
tested with a fake.

Two bearer tokens (issue 12): the read token sees the GET routes (status, switch records), the
operate token also switches, fences, unfences and aborts transactions, so a dashboard or a
readiness probe can hold a token that cannot move clients. A missing or unknown token is 401; the
read token on an operating route is 403. With no token configured at all, reads are open and
mutations are refused, because an unprotected switch endpoint is worse than none. Every mutation and
every refusal is written to the audit log; tokens are compared in constant time (both always).
"""

from __future__ import annotations

import hmac
import json
import math
import ssl
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.admin.audit import AuditLog
from proxy.config import AdminTokens
from proxy.log import admin as log
from proxy.metrics import CONTENT_TYPE, Metrics

SWITCH_MODES = ("planned", "emergency")
SWITCH_FIELDS = ("target", "mode", "dry_run", "timeout_s", "accept_replay", "accept_governance_gaps")
DEFAULT_SWITCH_TIMEOUT_S = 120.0
FINAL_PHASES = frozenset({"done", "aborted", "failed"})


class SwitchRejected(Exception):
    """The proxy refuses a switch, fence or unfence now (another switch running, unknown target...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProxyControl(Protocol):
    """What the admin API may ask of the running proxy.

    `switch_record` returns a JSON-able dict with at least `switch_id`, `phase`, `final` (bool) and
    `outcome` ("succeeded" | "aborted" | "failed", None while running); the CLI's `--wait` polls it.
    """

    def status(self) -> dict[str, Any]: ...

    def is_ready(self) -> bool: ...

    async def governance_preflight(self, target: str, mode: str, accept_gaps: bool) -> dict[str, Any] | None:
        """The governance gate's report (evidence), or SwitchRejected naming what B lacks."""
        ...

    def readiness(self, target: str) -> dict[str, Any]: ...

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float,
                     accept_replay: bool = False, governance: dict[str, Any] | None = None) -> str: ...

    def switch_record(self, switch_id: str) -> dict[str, Any] | None: ...

    def fence(self) -> dict[str, Any]: ...

    def unfence(self) -> dict[str, Any]: ...

    async def abort_transaction(self, cluster: str, transactional_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class SwitchRequest:
    target: str
    mode: str = "planned"
    dry_run: bool = False
    timeout_s: float = DEFAULT_SWITCH_TIMEOUT_S
    accept_replay: bool = False
    accept_governance_gaps: bool = False


class BadRequest(ValueError):
    """A request body the API cannot act on; the message goes back to the caller."""


def parse_switch_request(body: object) -> SwitchRequest:
    """Validate a POST /v1/switch body; unknown fields are refused like unknown config keys."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(body) - set(SWITCH_FIELDS))
    if unknown:
        known = ", ".join(SWITCH_FIELDS)
        raise BadRequest(f"unknown field(s): {', '.join(map(str, unknown))} (known: {known})")
    target = body.get("target")
    if not isinstance(target, str) or not target:
        raise BadRequest("target: expected a cluster name")
    mode = body.get("mode", "planned")
    if mode not in SWITCH_MODES:
        raise BadRequest(f"mode: expected one of {', '.join(SWITCH_MODES)}, got {mode!r}")
    dry_run = _flag(body, "dry_run")
    accept_replay = _flag(body, "accept_replay")
    accept_governance_gaps = _flag(body, "accept_governance_gaps")
    timeout_s = body.get("timeout_s", DEFAULT_SWITCH_TIMEOUT_S)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s) \
            or timeout_s <= 0:
        raise BadRequest(f"timeout_s: expected a number of seconds > 0, got {timeout_s!r}")
    return SwitchRequest(target, mode, dry_run, float(timeout_s), accept_replay, accept_governance_gaps)


def _flag(body: dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise BadRequest(f"{name}: expected true or false, got {value!r}")
    return value


def parse_abort_request(body: object) -> tuple[str, str]:
    """Validate a POST /v1/transactions/abort body: {"cluster": ..., "transactional_id": ...}."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    unknown = sorted(set(body) - {"cluster", "transactional_id"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(map(str, unknown))} (known: cluster, transactional_id)")
    cluster, transactional_id = body.get("cluster"), body.get("transactional_id")
    if not isinstance(cluster, str) or not cluster:
        raise BadRequest("cluster: expected a cluster name")
    if not isinstance(transactional_id, str) or not transactional_id:
        raise BadRequest("transactional_id: expected the id of the transaction to abort")
    return cluster, transactional_id


def _accepted_gaps(governance: dict[str, Any] | None) -> dict[str, Any]:
    """The blocking differences the operator accepted, for the audit entry of the switch."""
    if not governance or not governance.get("accepted_gaps"):
        return {}
    return {"governance_gaps_accepted": [f"{d['kind']} {d['subject']}" for d in governance.get("differences", ())
                                         if d.get("severity") == "blocking"]}


def _raiser(exc: Exception) -> Any:
    def call() -> Any:
        raise exc
    return call


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _error(status: int, message: str) -> web.Response:
    return _json({"error": message}, status)


def caller_of(request: web.Request) -> str:
    """`host:port` of the peer, for the audit log."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return request.remote or "unknown"


class _AdminApi:
    """The handlers, bound to one control, metrics registry, tokens and audit log."""

    def __init__(self, control: ProxyControl, metrics: Metrics, tokens: AdminTokens, audit: AuditLog) -> None:
        self.control = control
        self.metrics = metrics
        self.read_token = tokens.read.encode() if tokens.read else None
        self.operate_token = tokens.operate.encode() if tokens.operate else None
        self.audit = audit

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Bearer token check for /v1/*; a refusal is audited before the handler is ever reached."""
        if not request.path.startswith("/v1/"):
            return await handler(request)
        action = request.match_info.route.name or f"{request.method} {request.path}"
        operating = request.method != "GET"
        if self.read_token is None and self.operate_token is None:
            if not operating:
                return await handler(request)
            self.audit.record(caller_of(request), action, {"path": request.path}, "refused",
                              {"reason": "no admin token configured"})
            return _error(403, "no admin token configured")
        role = self._role(request)
        if role is None:
            self.audit.record(caller_of(request), action, {"path": request.path}, "unauthorized", None)
            response = _error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if operating and role != "operate":
            self.audit.record(caller_of(request), action, {"path": request.path}, "forbidden",
                              {"reason": "the read token cannot operate"})
            return _error(403, "the read token cannot operate; use the operate token")
        return await handler(request)

    def _role(self, request: web.Request) -> str | None:
        """"operate", "read" or None; both digests are always computed so timing tells nothing."""
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        given = presented.strip().encode()
        is_operate = hmac.compare_digest(given, self.operate_token or b"\x00" * 32)
        is_read = hmac.compare_digest(given, self.read_token or b"\x00" * 32)
        if scheme.lower() != "bearer" or not given:
            return None
        if is_operate and self.operate_token is not None:
            return "operate"
        if is_read and self.read_token is not None:
            return "read"
        return None

    async def metrics_text(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def readyz(self, request: web.Request) -> web.Response:
        if self.control.is_ready():
            return web.Response(text="ready")
        return web.Response(status=503, text="not ready")

    async def status(self, request: web.Request) -> web.Response:
        return _json(self.control.status())

    async def readiness(self, request: web.Request) -> web.Response:
        target = request.query.get("target")
        if not target:
            return _error(400, "target: expected ?target=<cluster>")
        try:
            return _json(self.control.readiness(target))
        except SwitchRejected as exc:
            return _error(404, exc.reason)

    async def start_switch(self, request: web.Request) -> web.Response:
        caller = caller_of(request)
        try:
            switch = parse_switch_request(await request.json())
        except (BadRequest, json.JSONDecodeError, UnicodeDecodeError) as exc:
            message = str(exc) if isinstance(exc, BadRequest) else f"body is not valid JSON: {exc}"
            self.audit.record(caller, "switch", {}, "bad_request", {"reason": message})
            return _error(400, message)

        try:
            governance = await self.control.governance_preflight(switch.target, switch.mode,
                                                                 switch.accept_governance_gaps)
        except Exception as exc:
            return self._act(caller, "switch", asdict(switch), _raiser(exc))

        def start() -> dict[str, Any]:
            switch_id = self.control.start_switch(switch.target, switch.mode, switch.dry_run, switch.timeout_s,
                                                  switch.accept_replay, governance)
            return {"switch_id": switch_id, **_accepted_gaps(governance)}

        return self._act(caller, "switch", asdict(switch), start, ok_status=202, ok_outcome="accepted")

    async def switch_record(self, request: web.Request) -> web.Response:
        record = self.control.switch_record(request.match_info["switch_id"])
        if record is None:
            return _error(404, f"unknown switch id {request.match_info['switch_id']!r}")
        return _json(record)

    async def fence(self, request: web.Request) -> web.Response:
        return self._act(caller_of(request), "fence", {}, self.control.fence)

    async def unfence(self, request: web.Request) -> web.Response:
        return self._act(caller_of(request), "unfence", {}, self.control.unfence)

    async def abort_transaction(self, request: web.Request) -> web.Response:
        caller = caller_of(request)
        try:
            cluster, transactional_id = parse_abort_request(await request.json())
        except (BadRequest, json.JSONDecodeError, UnicodeDecodeError) as exc:
            message = str(exc) if isinstance(exc, BadRequest) else f"body is not valid JSON: {exc}"
            self.audit.record(caller, "abort_transaction", {}, "bad_request", {"reason": message})
            return _error(400, message)
        parameters = {"cluster": cluster, "transactional_id": transactional_id}
        try:
            result = await self.control.abort_transaction(cluster, transactional_id)
        except Exception as exc:
            return self._act(caller, "abort_transaction", parameters, _raiser(exc))
        return self._act(caller, "abort_transaction", parameters, lambda: result)

    def _act(self, caller: str, action: str, parameters: dict[str, Any], call: Any,
             ok_status: int = 200, ok_outcome: str = "ok") -> web.Response:
        """Run one mutation; its outcome, whatever it is, goes to the audit log."""
        try:
            result = call()
        except SwitchRejected as exc:
            self.audit.record(caller, action, parameters, "rejected", {"reason": exc.reason})
            return _error(409, exc.reason)
        except Exception as exc:
            log.exception("admin %s by %s failed", action, caller)
            self.audit.record(caller, action, parameters, "error", {"reason": repr(exc)})
            return _error(500, f"{action} failed: {exc}")
        self.audit.record(caller, action, parameters, ok_outcome, result)
        return _json(result, ok_status)


def build_admin_app(control: ProxyControl, metrics: Metrics, token: str | AdminTokens | None,
                    audit: AuditLog) -> web.Application:
    """The admin application; a plain string is the operate token (the API before the split).

    No token at all leaves /v1 reads open and refuses every mutation.
    """
    tokens = token if isinstance(token, AdminTokens) else AdminTokens(operate=token)
    api = _AdminApi(control, metrics, tokens, audit)
    app = web.Application(middlewares=[api.guard], client_max_size=64 * 1024)
    app.router.add_get("/metrics", api.metrics_text, name="metrics")
    app.router.add_get("/healthz", api.healthz, name="healthz")
    app.router.add_get("/readyz", api.readyz, name="readyz")
    app.router.add_get("/v1/status", api.status, name="status")
    app.router.add_get("/v1/readiness", api.readiness, name="readiness")
    app.router.add_post("/v1/switch", api.start_switch, name="switch")
    app.router.add_get("/v1/switch/{switch_id}", api.switch_record, name="switch_record")
    app.router.add_post("/v1/fence", api.fence, name="fence")
    app.router.add_post("/v1/unfence", api.unfence, name="unfence")
    app.router.add_post("/v1/transactions/abort", api.abort_transaction, name="abort_transaction")
    return app


async def start_admin(app: web.Application, host: str, port: int,
                      shutdown_timeout_s: float = 5.0, ssl_context: ssl.SSLContext | None = None
                      ) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port (HTTPS with `ssl_context`); returns the runner (`await runner.cleanup()`
    stops it) and the bound port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    log.info("admin API listening on %s:%d%s", host, bound, " (TLS)" if ssl_context else "")
    return runner, int(bound)
