"""The admin HTTP API (aiohttp, in the proxy's own loop).

Routes: GET /metrics, /healthz, /readyz, and under /v1: GET status, GET readiness?target=, POST switch, GET switch/{id},
POST fence, POST unfence, POST transactions/abort (a dead producer's transaction blocking a
switch). The admin layer knows the proxy only through `ProxyControl`, so it is
tested with a fake. Every /v1 call needs `Authorization: Bearer <token>` when a token is configured;
with no token configured, reads are open and mutations are refused, because an unprotected switch
endpoint is worse than none. Every mutation and every refusal is written to the audit log.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from aiohttp import web
from aiohttp.typedefs import Handler

from proxy.admin.audit import AuditLog
from proxy.log import admin as log
from proxy.metrics import CONTENT_TYPE, Metrics

SWITCH_MODES = ("planned", "emergency")
SWITCH_FIELDS = ("target", "mode", "dry_run", "timeout_s", "accept_replay")
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

    def readiness(self, target: str) -> dict[str, Any]: ...

    def start_switch(self, target: str, mode: str, dry_run: bool, timeout_s: float,
                     accept_replay: bool = False) -> str: ...

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
    timeout_s = body.get("timeout_s", DEFAULT_SWITCH_TIMEOUT_S)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not math.isfinite(timeout_s) \
            or timeout_s <= 0:
        raise BadRequest(f"timeout_s: expected a number of seconds > 0, got {timeout_s!r}")
    return SwitchRequest(target, mode, dry_run, float(timeout_s), accept_replay)


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
    """The handlers, bound to one control, metrics registry, token and audit log."""

    def __init__(self, control: ProxyControl, metrics: Metrics, token: str | None, audit: AuditLog) -> None:
        self.control = control
        self.metrics = metrics
        self.token = token.encode() if token else None
        self.audit = audit

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Bearer token check for /v1/*; a refusal is audited before the handler is ever reached."""
        if not request.path.startswith("/v1/"):
            return await handler(request)
        action = request.match_info.route.name or f"{request.method} {request.path}"
        if self.token is None:
            if request.method == "GET":
                return await handler(request)
            self.audit.record(caller_of(request), action, {"path": request.path}, "refused",
                              {"reason": "no admin token configured"})
            return _error(403, "no admin token configured")
        if not self._authorised(request):
            self.audit.record(caller_of(request), action, {"path": request.path}, "unauthorized", None)
            response = _error(401, "missing or wrong bearer token")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return await handler(request)

    def _authorised(self, request: web.Request) -> bool:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or self.token is None:
            return False
        return hmac.compare_digest(presented.strip().encode(), self.token)

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

        def start() -> dict[str, Any]:
            return {"switch_id": self.control.start_switch(switch.target, switch.mode, switch.dry_run,
                                                           switch.timeout_s, switch.accept_replay)}

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


def build_admin_app(control: ProxyControl, metrics: Metrics, token: str | None,
                    audit: AuditLog) -> web.Application:
    """The admin application; `token=None` leaves /v1 reads open and refuses every mutation."""
    api = _AdminApi(control, metrics, token, audit)
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
                      shutdown_timeout_s: float = 5.0) -> tuple[web.AppRunner, int]:
    """Serve `app` on host:port; returns the runner (`await runner.cleanup()` stops it) and the bound port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=shutdown_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    log.info("admin API listening on %s:%d", host, bound)
    return runner, int(bound)
