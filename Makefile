# Two commands matter: `make demo` and `make test`. Both install what they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# tests run in a random order (pytest-randomly); rerun one order with `make test SEED=<printed seed>`
SEED ?= $(shell $(PYTHON) -c 'import random; print(random.randrange(1 << 31))')
SEED := $(SEED)
# etcd for the fleet tests comes from Debian's etcd-server package (apt needs root: sudo when not root)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install jars etcd go-workload demo demo-fleet test lint typecheck unit integration bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

jars: $(STAMP)
	$(PY) -m harness.jars

etcd:
	@command -v etcd >/dev/null 2>&1 || { $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q etcd-server; }
	@etcd --version | head -1

go-workload: $(STAMP)
	$(PY) -m harness.go_build

demo: jars
	$(PY) -m harness.demo $(DEMO_ARGS)

demo-fleet: jars etcd
	$(PY) -m harness.demo --fleet 3 $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check protocol proxy harness tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy protocol proxy harness

unit: $(STAMP)
	$(PY) -m pytest tests/unit -q $(PYTEST_ARGS)

integration: jars etcd go-workload
	$(PY) -m pytest tests/integration -q $(PYTEST_ARGS)

test: jars etcd go-workload lint typecheck
	@echo "test order seed: $(SEED)"
	$(PY) -m pytest tests -q -rs --randomly-seed=$(SEED) $(PYTEST_ARGS)

bench: jars go-workload
	$(PY) -m bench.codec_bench
	$(PY) -m bench.topic_id_bench
	$(PY) -m bench.overhead --quick
	$(PY) -m bench.connections --quick
	$(PY) -m bench.failover_drill --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
