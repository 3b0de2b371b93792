"""The Dockerfile, the alert rules and the runbook say only what the code makes true.

No Docker engine and no Prometheus run here, so these tests read the files and hold each claim
against the code it names: the console script and default ports, every metric and label an alert
uses, every CLI command and admin route the runbook shows, every switch-record field it names.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from proxy import cli
from proxy.admin.api import build_admin_app
from proxy.admin.audit import AuditLog
from proxy.config import load
from proxy.metrics import Metrics
from proxy.switch.machine.phases import Mode, Outcome, Phase
from proxy.switch.machine.progress import GroupCheck, OffsetWrite, PartitionProgress, TailEntry
from proxy.switch.machine.record import Evidence, PhaseTiming, SwitchRecord
from tests.unit.admin.fake_control import FakeControl

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docs" / "alerts" / "kafka-failover-proxy.rules.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
EXTERNAL_SERIES = {"up", "probe_success"}  # made by Prometheus per target, and by a blackbox probe of /readyz
SCRAPE_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series
PROMQL_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
                   "group_right"}
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
SELECTOR = re.compile(r"(?<![\w:])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
MATCHER = re.compile(r"([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*\"([^\"]*)\"")


# -- Dockerfile -----------------------------------------------------------------------------------------


def instructions() -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per Dockerfile instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = (line.strip() for line in text.splitlines())
    return [(keyword.upper(), rest.strip()) for keyword, _, rest in
            (line.partition(" ") for line in lines if line and not line.startswith("#"))]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def only(stage: list[tuple[str, str]], keyword: str) -> str:
    found = [args for kw, args in stage if kw == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def console_script() -> str:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    return str(next(name for name, target in scripts.items() if target == "proxy.cli:main"))


def test_image_builds_a_wheel_then_installs_it_on_python_311_slim() -> None:
    steps = instructions()
    assert [args.split()[0] for kw, args in steps if kw == "FROM"] == ["python:3.11-slim"] * 2
    assert any(kw == "RUN" and "pip wheel" in args for kw, args in steps[:len(steps) - len(final_stage())])
    install = [args for kw, args in final_stage() if kw == "RUN" and "pip install" in args]
    assert install and "--no-index" in install[0] and "/kafka_failover_proxy-" in install[0]


def test_runtime_runs_as_the_non_root_user_kfp() -> None:
    stage = final_stage()
    assert only(stage, "USER") == "kfp"
    assert any(kw == "RUN" and re.search(r"useradd [^&;]* kfp(\s|$)", args) for kw, args in stage)


def test_entrypoint_is_the_console_script_and_cmd_points_at_the_copied_example_config() -> None:
    stage = final_stage()
    assert json.loads(only(stage, "ENTRYPOINT")) == [console_script(), "run"]
    cmd = json.loads(only(stage, "CMD"))
    assert cmd[0] == "--config"
    assert f"config/proxy.yaml {cmd[1]}" in [args for kw, args in stage if kw == "COPY"]
    assert cli.build_parser().parse_args(["run", *cmd]).config == cmd[1]


def test_healthcheck_asks_the_admin_healthz_of_the_default_config_with_python_only() -> None:
    stage = final_stage()
    check = only(stage, "HEALTHCHECK")
    assert "urllib.request" in check and "curl" not in check and "KFP_HEALTHZ_URL" in check
    env = " ".join(args for kw, args in stage if kw == "ENV")
    admin = load(ROOT / "config" / "proxy.yaml").admin
    assert f"KFP_HEALTHZ_URL=http://127.0.0.1:{admin.port}/healthz" in env.split()


def test_exposed_ports_are_the_defaults_of_config_proxy_yaml() -> None:
    exposed: set[int] = set()
    for token in only(final_stage(), "EXPOSE").split():
        low, _, high = token.partition("-")
        exposed.update(range(int(low), int(high or low) + 1))
    config = load(ROOT / "config" / "proxy.yaml")
    brokers = {config.broker_port(n) for n in range(config.listeners.max_brokers)}
    assert exposed == {config.listeners.bootstrap_port, config.admin.port} | brokers


def test_dockerignore_keeps_caches_out_and_every_copied_path_in() -> None:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
                if p.strip() and not p.startswith("#")]
    assert {".git", ".venv", "bench/results", "**/__pycache__", ".mypy_cache", ".pytest_cache"} <= set(patterns)
    copied = [args.split()[:-1] for kw, args in instructions() if kw == "COPY" and not args.startswith("--")]
    for source in (s.rstrip("/") for sources in copied for s in sources):
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, p) or source.startswith(p + "/") for p in patterns), source


# -- Prometheus rules -----------------------------------------------------------------------------------


def rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    """Series names an expression selects: identifiers left once strings, matchers, ranges,
    grouping clauses, function calls and keywords are set aside."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = GROUPING.sub(" ", text)
    found = re.findall(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()", text)
    return set(found) - PROMQL_KEYWORDS


def exported_series() -> dict[str, set[str]]:
    """Every series name the proxy's registry exposes, with its label names (children created first)."""
    metrics = Metrics(clusters=["A"])
    for api_child in (metrics.request, metrics.response, metrics.latency, metrics.rewrite, metrics.fenced_request):
        api_child(0)
    metrics.upstream_connection("A")
    metrics.upstream_error("A", "connect")
    metrics.frame_error("DecodeError")
    metrics.switch_outcome("aborted")
    metrics.switch_phase("fence")
    metrics.replication_lag("A", "B")
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_count", "_sum", "_created")}
    series: dict[str, set[str]] = {}
    for family in metrics.registry.collect():
        for suffix in suffixes.get(family.type, ("",)):
            series[family.name + suffix] = set()
        for sample in family.samples:
            series.setdefault(sample.name, set()).update(sample.labels)
    return series


RULE_IDS = [rule["alert"] for rule in rules()]


def test_metric_names_sees_through_promql_syntax() -> None:
    expr = 'sum by (job) (rate(kfp_x_total{a="b"}[5m])) * on (job) group_left () (kfp_y == 1) > 0.5 or up offset 5m'
    assert metric_names(expr) == {"kfp_x_total", "kfp_y", "up"}


def test_rule_file_has_the_prometheus_rule_file_shape() -> None:
    loaded = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    assert set(loaded) == {"groups"} and loaded["groups"]
    for group in loaded["groups"]:
        assert set(group) == {"name", "rules"} and group["rules"]
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", "0s"))), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
    assert len(RULE_IDS) == len(set(RULE_IDS))


def test_rules_cover_fence_lag_aborts_availability_and_errors() -> None:
    used = {name for rule in rules() for name in metric_names(rule["expr"])}
    assert {"kfp_fenced", "kfp_replication_lag_records", "kfp_switches_total", "up", "probe_success",
            "kfp_upstream_errors_total", "kfp_frame_errors_total"} <= used
    fenced = next(rule for rule in rules() if metric_names(rule["expr"]) == {"kfp_fenced"})
    assert fenced["for"] == "2m" and "== 1" in fenced["expr"]


@pytest.mark.parametrize("rule", rules(), ids=RULE_IDS)
def test_every_series_in_a_rule_is_exported_by_proxy_metrics(rule: dict[str, Any]) -> None:
    unknown = metric_names(rule["expr"]) - set(exported_series()) - EXTERNAL_SERIES
    assert not unknown, f"{rule['alert']} uses series proxy/metrics.py does not define: {sorted(unknown)}"


@pytest.mark.parametrize("rule", rules(), ids=RULE_IDS)
def test_every_label_in_a_rule_is_a_label_of_its_series(rule: dict[str, Any]) -> None:
    series, expr = exported_series(), rule["expr"]
    for name, matchers in SELECTOR.findall(expr):
        labels = {label for label, _, _ in MATCHER.findall(matchers)}
        assert labels <= series.get(name, set()) | SCRAPE_LABELS, f"{name}{{{matchers}}}"
    known = set().union(*(series.get(n, set()) for n in metric_names(expr))) | SCRAPE_LABELS
    for clause in GROUPING.findall(expr):
        assert {label.strip() for label in clause.split(",") if label.strip()} <= known, clause


def test_switch_outcomes_matched_by_rules_are_outcomes_the_proxy_reports() -> None:
    matched = {value for rule in rules() for name, matchers in SELECTOR.findall(rule["expr"])
               if name == "kfp_switches_total" for label, _, value in MATCHER.findall(matchers)
               if label == "outcome"}
    assert matched and matched <= {str(o) for o in Outcome}


# -- runbook --------------------------------------------------------------------------------------------


def runbook() -> str:
    return RUNBOOK.read_text(encoding="utf-8")


def code_blocks() -> list[str]:
    return re.findall(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", runbook(), re.M | re.S)


def cli_lines() -> list[str]:
    return [line.strip() for block in code_blocks() for line in block.splitlines()
            if line.strip().startswith("kafka-failover-proxy ")]


def anchors() -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", runbook(), re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


def subcommands() -> set[str]:
    parser = cli.build_parser()
    return {name for action in parser._actions if hasattr(action, "choices") and isinstance(action.choices, dict)
            for name in action.choices}


@pytest.mark.parametrize("line", sorted(set(cli_lines())))
def test_every_command_line_in_the_runbook_parses_with_the_cli_parser(line: str) -> None:
    argv = shlex.split(line, comments=True)[1:]
    assert cli.build_parser().parse_args(argv).command == argv[0]
    assert cli.main([argv[0], "--help"]) == 0


def test_runbook_shows_every_cli_command() -> None:
    shown = {shlex.split(line)[1] for line in cli_lines()}
    assert shown == subcommands()


def test_every_admin_path_in_the_runbook_is_a_route_of_the_admin_api() -> None:
    app = build_admin_app(FakeControl(), Metrics(), "token", AuditLog(None))
    routes = [re.sub(r"\{[^}]+\}", "[^/]+", route.resource.canonical) for route in app.router.routes()
              if route.resource is not None]
    urls = [path for block in code_blocks() for path in re.findall(r"https?://[^/\s\"']+(/[^\s\"'\\]+)", block)]
    mentioned = [path for _, path in re.findall(r"`(GET|POST) (/[^`\s]*)`", runbook())]
    assert urls and mentioned
    for path in urls + mentioned:
        assert any(re.fullmatch(route, path) for route in routes), path


def test_alert_runbook_links_and_runbook_links_land_on_headings() -> None:
    targets = [rule["annotations"]["runbook_url"] for rule in rules()]
    assert all(t.startswith("docs/runbook.md#") for t in targets)
    links = [t.partition("#")[2] for t in targets] + re.findall(r"\]\(#([^)]+)\)", runbook())
    assert set(links) <= anchors(), set(links) - anchors()


def sample_record() -> dict[str, Any]:
    """A record with one entry in every list, so that every field path can be followed."""
    evidence = Evidence(
        mirror=(PartitionProgress(topic="t", partition=0, source_end_offset=5, source_last_data_offset=4,
                                  mirrored_upto=4, target_end_offset=5, exact_sync=(4, 4)),),
        groups=(GroupCheck(group="g", topic="t", partition=0, committed_on_source=5, on_target=5, expected=5,
                           status="ok"),),
        offsets_written=(OffsetWrite(group="g", topic="t", partition=0, offset=5),),
        emergency_tail=(TailEntry(topic="t", partition=0, tail=1, last_data_offset=4, copied_upto=3),),
        rejoined=(("c", "g", 7),), notes=("n",))
    record = SwitchRecord(switch_id="sw-1", source="A", target="B", mode=Mode.PLANNED, dry_run=False, timeout_s=1,
                          requested_at=0, epoch_before=0, timings=(PhaseTiming(phase=Phase.FENCE, start_ms=0),),
                          evidence=evidence)
    return record.to_dict()


def follow(data: Any, path: str) -> Any:
    """Follow `a.b[].c` (a list: its first item; `<name>`: any key) through plain JSON data."""
    for part in path.split("."):
        key, is_list = (part[:-2], True) if part.endswith("[]") else (part, False)
        data = next(iter(data.values())) if key.startswith("<") else data[key]
        if is_list:
            data = data[0]
    return data


def record_paths() -> set[str]:
    return set(re.findall(r"`((?:evidence|phases)(?:\[\])?(?:\.[\w<>]+(?:\[\])?)*)`", runbook()))


def test_every_record_field_named_in_the_runbook_exists() -> None:
    record, paths = sample_record(), record_paths()
    assert len(paths) > 20
    for path in paths:
        try:
            follow(record, path)
        except (KeyError, IndexError, TypeError, StopIteration):
            pytest.fail(f"the runbook names `{path}`, which a switch record does not have")


def keys_of(data: Any) -> Iterator[str]:
    """Every key path of plain JSON data (lists: their first item)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield key
            yield from (f"{key}.{sub}" for sub in keys_of(value))
    elif isinstance(data, list) and data:
        yield from (f"[].{sub}" for sub in keys_of(data[0]))


def test_example_record_in_the_runbook_has_the_fields_of_a_real_record_and_no_others() -> None:
    example = next(json.loads(block) for block in code_blocks() if block.lstrip().startswith('{\n  "switch_id"'))
    shown, real = set(keys_of(example)), set(keys_of(sample_record()))
    assert shown <= real, shown - real
    assert {k for k in real if "[]" not in k} == {k for k in shown if "[]" not in k}
