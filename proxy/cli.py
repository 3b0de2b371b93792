"""`kafka-failover-proxy`: run the proxy, check a config, and drive the admin API.

Exit codes: 0 success, 1 the operation failed (switch aborted, API refused, unreachable),
2 usage or configuration error (nothing was started or sent).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from proxy.admin.api import DEFAULT_SWITCH_TIMEOUT_S, FINAL_PHASES
from proxy.admin.fleet_view import fleet_view
from proxy.config import WILDCARD_HOSTS, ConfigError, ProxyConfig, load, read_admin_tokens
from proxy.log import configure_logging
from proxy.readiness.scoring import render_table
from proxy.state.store import StateStoreError

OK, FAILED, USAGE = 0, 1, 2
TOKEN_ENV = "KFP_ADMIN_TOKEN"
POLL_INTERVAL_S = 0.5


class UsageError(Exception):
    """Bad arguments or config: exit 2 before anything is sent."""


class AdminUnreachable(Exception):
    """No HTTP answer at all (refused, timed out, name not resolved): exit 1."""


class AdminClient:
    """A synchronous client of the admin API (urllib: a CLI has nothing else to do while it waits)."""

    def __init__(self, base_url: str, token: str | None, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """(HTTP status, decoded JSON or text); no answer at all raises AdminUnreachable."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, _decode(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _decode(error.read())
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            raise AdminUnreachable(f"cannot reach the admin API at {self.base_url}: {reason}") from None


def _decode(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return payload.decode(errors="replace")


def _print(data: Any) -> None:
    print(data if isinstance(data, str) else json.dumps(data, indent=2, sort_keys=True, default=str))


# -- subcommands ----------------------------------------------------------------------------------------


def _load(path: str) -> ProxyConfig:
    config = load(path)
    read_admin_tokens(config)  # a configured token that is missing must stop the start, not the first call
    return config


def cmd_run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    configure_logging(config.logging.level, config.logging.json)
    from proxy.app import run  # imported here: check-config and admin commands never load the network stack

    return run(config)


def cmd_check_config(args: argparse.Namespace) -> int:
    from proxy.sasl.authenticators import listener_authenticators

    config = _load(args.config)
    authenticators = listener_authenticators(config.listeners.sasl, ConfigError)
    credentials = authenticators.credentials if authenticators is not None else None
    tokens = authenticators.tokens if authenticators is not None else None
    users = f", {len(credentials.users)} SASL users" if credentials is not None else ""
    keys = f", {len(tokens.jwks.keys)} OAUTHBEARER keys" if tokens is not None else ""
    print(f"{args.config}: ok (active {config.active}, clusters {', '.join(config.clusters)}{users}{keys})")
    return OK


def cmd_scram_credential(args: argparse.Namespace) -> int:
    """A salted credentials-file entry from a password on stdin (never an argument: shell history, ps)."""
    from proxy.sasl.scram import format_entry, make_credential

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("no password on stdin")
    print(format_entry(args.user, make_credential(args.mechanism, password, iterations=args.iterations)))
    return OK


def cmd_status(args: argparse.Namespace) -> int:
    return _report(*admin_client(args, operate=False).call("GET", "/v1/status"))


def cmd_fleet(args: argparse.Namespace) -> int:
    """Exit 0 when every registered instance is on the stored cluster and epoch, 1 when one is not."""
    status, answer = admin_client(args, operate=False).call("GET", "/v1/status")
    if status != 200 or not isinstance(answer, dict):
        return _report(status, answer)
    if args.json:
        _print((answer.get("state") or {}).get("fleet"))
    view = fleet_view(answer)
    if not args.json:
        print("\n".join(view.lines))
    return OK if view.agreed else FAILED


def cmd_readiness(args: argparse.Namespace) -> int:
    """Exit 0 only for a production candidate (no zero in compatibility, offsets, routing, rollback)."""
    status, answer = admin_client(args).call("GET", f"/v1/readiness?target={urllib.parse.quote(args.to)}")
    if status != 200 or not isinstance(answer, dict):
        return _report(status, answer)
    if args.json:
        _print(answer)
    else:
        print(render_table(answer))
    return OK if answer.get("production_candidate") else FAILED


def cmd_fence(args: argparse.Namespace) -> int:
    return _report(*admin_client(args).call("POST", "/v1/fence"))


def cmd_unfence(args: argparse.Namespace) -> int:
    return _report(*admin_client(args).call("POST", "/v1/unfence"))


def cmd_abort_transaction(args: argparse.Namespace) -> int:
    body = {"cluster": args.cluster, "transactional_id": args.transactional_id}
    return _report(*admin_client(args).call("POST", "/v1/transactions/abort", body))


def cmd_switch(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        raise UsageError("--timeout must be > 0")
    client = admin_client(args)
    body = {"target": args.to, "mode": "emergency" if args.emergency else "planned",
            "dry_run": args.dry_run, "timeout_s": args.timeout, "accept_replay": args.accept_replay,
            "accept_governance_gaps": args.accept_governance_gaps}
    status, answer = client.call("POST", "/v1/switch", body)
    if status != 202 or not args.wait:
        return _report(status, answer, accepted=202)
    return wait_for_switch(client, answer["switch_id"], args.timeout + 30)


def wait_for_switch(client: AdminClient, switch_id: str, timeout_s: float) -> int:
    """Poll the switch record until it is final; print it; 0 only if the switch succeeded."""
    deadline = time.monotonic() + timeout_s
    while True:
        status, record = client.call("GET", f"/v1/switch/{switch_id}")
        if status != 200:
            return _report(status, record)
        if is_final(record):
            _print(record)
            return OK if succeeded(record) else FAILED
        if time.monotonic() > deadline:
            _print(record)
            print(f"switch {switch_id} not final after {timeout_s:.0f}s", file=sys.stderr)
            return FAILED
        time.sleep(POLL_INTERVAL_S)


def is_final(record: dict[str, Any]) -> bool:
    return record.get("final") is True or str(record.get("phase", "")).lower() in FINAL_PHASES


def succeeded(record: dict[str, Any]) -> bool:
    """A switch that ran to the end; a dry run only if every gate it checked passed."""
    outcome = record.get("outcome")
    done = outcome == "succeeded" or (outcome is None and record.get("phase") == "done")
    if done and record.get("dry_run"):
        gates = record.get("evidence", {}).get("gates", {})
        return all(gate.get("status") == "passed" for gate in gates.values())
    return done


def _report(status: int, answer: Any, accepted: int = 200) -> int:
    if status == accepted:
        _print(answer)
        return OK
    message = answer.get("error", answer) if isinstance(answer, dict) else answer
    print(f"admin API answered {status}: {message}", file=sys.stderr)
    return USAGE if status == 400 else FAILED


# -- admin address and token ----------------------------------------------------------------------------


def admin_client(args: argparse.Namespace, operate: bool = True) -> AdminClient:
    """Address from --admin-url or the config; token from --token-file, $KFP_ADMIN_TOKEN or the config.

    From the config, a reading command takes the read token (the operate token if there is none) and
    an operating command the operate token, so each call carries the least it needs.
    """
    config = _load(args.config) if args.config else None
    if args.admin_url:
        url = args.admin_url
    elif config is not None:
        url = admin_url(config)
    else:
        raise UsageError("give --config or --admin-url")
    return AdminClient(url, admin_token(args, config, operate))


def admin_url(config: ProxyConfig) -> str:
    host, port = config.admin.bind_host, config.admin.port
    if port == 0:
        raise UsageError("admin.port is 0 (ephemeral) in the config; give --admin-url")
    host = "127.0.0.1" if host in WILDCARD_HOSTS else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def admin_token(args: argparse.Namespace, config: ProxyConfig | None, operate: bool = True) -> str | None:
    if args.token_file:
        try:
            with open(args.token_file, encoding="utf-8") as source:
                return source.read().strip() or None
        except OSError as exc:
            raise UsageError(f"cannot read --token-file: {exc}") from None
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV].strip()
    if config is None:
        return None
    tokens = read_admin_tokens(config)
    return tokens.operate if operate else tokens.read or tokens.operate


# -- argument parsing -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafka-failover-proxy", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the proxy")
    run.add_argument("--config", required=True)
    run.set_defaults(handler=cmd_run)
    check = commands.add_parser("check-config", help="parse a config file and exit 0 (ok) or 2")
    check.add_argument("--config", required=True)
    check.set_defaults(handler=cmd_check_config)
    scram = commands.add_parser("scram-credential",
                                help="print a salted SCRAM credentials-file entry for a password read from stdin")
    scram.add_argument("--user", required=True)
    scram.add_argument("--mechanism", choices=("SCRAM-SHA-256", "SCRAM-SHA-512"), default="SCRAM-SHA-512")
    scram.add_argument("--iterations", type=int, default=8192)
    scram.set_defaults(handler=cmd_scram_credential)
    switch = _admin_command(commands, "switch", "move clients to another cluster", cmd_switch)
    switch.add_argument("--to", required=True, metavar="CLUSTER")
    switch.add_argument("--emergency", action="store_true",
                        help="skip drain and catch-up (the active cluster is unreachable)")
    switch.add_argument("--dry-run", action="store_true", help="run the checks only; change nothing")
    switch.add_argument("--accept-replay", action="store_true",
                        help="resume groups whose exact position cannot be proven at their safe bound "
                             "(they may re-read up to the reported number of records); audited")
    switch.add_argument("--accept-governance-gaps", action="store_true",
                        help="start although B lacks a principal or ACL that A grants (governance gate); audited")
    switch.add_argument("--timeout", type=float, default=DEFAULT_SWITCH_TIMEOUT_S, metavar="SECONDS")
    switch.add_argument("--wait", action="store_true", help="wait for the outcome and print the record")
    abort = _admin_command(commands, "abort-transaction",
                           "abort the open transaction of a producer that is gone (fences it)", cmd_abort_transaction)
    abort.add_argument("--cluster", required=True)
    abort.add_argument("--transactional-id", required=True)
    _admin_command(commands, "status", "print the proxy status", cmd_status)
    fleet = _admin_command(commands, "fleet", "list the fleet's instances; exit 1 if one is not on the "
                                              "stored cluster and epoch", cmd_fleet)
    fleet.add_argument("--json", action="store_true", help="print the members as JSON")
    ready = _admin_command(commands, "readiness", "score the seven failover gates for a switch to a cluster; "
                                                  "exit 0 only for a production candidate", cmd_readiness)
    ready.add_argument("--to", required=True, metavar="CLUSTER")
    ready.add_argument("--json", action="store_true", help="print the scorecard as JSON")
    _admin_command(commands, "fence", "refuse produce and new transactions", cmd_fence)
    _admin_command(commands, "unfence", "lift the fence", cmd_unfence)
    return parser


def _admin_command(commands: Any, name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
    command: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    command.add_argument("--config", help="proxy config: admin address and token")
    command.add_argument("--admin-url", help="e.g. http://127.0.0.1:9300 (overrides the config)")
    command.add_argument("--token-file", help=f"bearer token file (else ${TOKEN_ENV}, else the config)")
    command.set_defaults(handler=handler)
    return command


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else USAGE
    try:
        return int(args.handler(args))
    except ConfigError as exc:
        print(f"config error: {exc.path}: {exc.message}", file=sys.stderr)
        return USAGE
    except UsageError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return USAGE
    except StateStoreError as exc:
        print(f"switch state error, not starting: {exc}", file=sys.stderr)
        return FAILED
    except AdminUnreachable as exc:
        print(exc, file=sys.stderr)
        return FAILED


if __name__ == "__main__":
    sys.exit(main())
