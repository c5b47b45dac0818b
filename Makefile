# Hearth developer commands. GNU make; recipes use tabs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The first of python3.11, python3.12, python3 that runs (a pyenv shim may exist and still
# refuse to run); 3.13+ is refused when the venv is made. Expanded only then.
PY ?= $(firstword $(foreach p,python3.11 python3.12 python3,$(shell $(p) -c '' >/dev/null 2>&1 && echo $(p))))
VENV := .venv
VPY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced
X12VENV := .venv-x12
X12PY := $(X12VENV)/bin/python
X12STAMP := $(X12VENV)/.synced
PYTEST_WORKERS ?= auto

.PHONY: help install lock lint fmt run test reliability demo bench migrate clean x12-tools x12-lock

help:
	@echo "make install   create .venv and install requirements.lock (only when the lock changed)"
	@echo "make run       PostgreSQL + Redis (local or embedded), migrations, demo data, API and worker"
	@echo "make test      the test suite (pytest -n $(PYTEST_WORKERS))"
	@echo "make reliability  SIGKILL, concurrency/fault, OpenAPI fuzz and authz suites, a line each"
	@echo "make lint      ruff check, ruff format --check, mypy, lint-imports (the import contracts)"
	@echo "make fmt       ruff format and ruff check --fix"
	@echo "make migrate   apply migrations to DATABASE_URL (or the local stack's hearth database)"
	@echo "make demo      the scripted demo (infra.demo)"
	@echo "make bench     the benchmarks (infra.bench)"
	@echo "make lock      re-resolve requirements.lock from pyproject.toml"
	@echo "make x12-tools create .venv-x12 (linuxforhealth-x12 for 270/271 validation)"
	@echo "make clean     remove .venv, .venv-x12 and tool caches (the local databases in .data stay)"

$(VPY):
	@if [ -z "$(PY)" ]; then echo "No python3.11, python3.12 or python3 on PATH; set PY=..." >&2; exit 1; fi
	@$(PY) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 11) <= v < (3, 13) else "Hearth needs Python 3.11 or 3.12, but $(PY) is %d.%d: run make PY=python3.11 ..." % v)'
	$(PY) -m venv $(VENV)

$(UV): | $(VPY)
	$(VPY) -m pip install --quiet uv

# uv pip sync contacts the package index even when nothing is missing, so it runs only when
# requirements.lock is newer than the stamp: once installed, make run works offline.
$(STAMP): requirements.lock | $(UV)
	$(UV) pip sync --python $(VPY) requirements.lock
	@touch $@

install: $(STAMP)

# linuxforhealth-x12 (the 005010X279A1 validator) needs pydantic 1, so it lives in its own
# environment, never the app's; like the main venv, it syncs only when its lock changed.
$(X12PY):
	@if [ -z "$(PY)" ]; then echo "No python3.11, python3.12 or python3 on PATH; set PY=..." >&2; exit 1; fi
	$(PY) -m venv $(X12VENV)

$(X12STAMP): infra/x12-tools.lock | $(X12PY) $(UV)
	$(UV) pip sync --python $(X12PY) infra/x12-tools.lock
	@touch $@

x12-tools: $(X12STAMP)

x12-lock: | $(UV)
	$(UV) pip compile infra/x12-tools.in --generate-hashes --python-version 3.11 -o infra/x12-tools.lock

lock: | $(UV)
	$(UV) pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

lint: $(STAMP)
	@status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/ruff format --check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	$(VENV)/bin/lint-imports || status=1; \
	exit $$status

fmt: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: $(STAMP)
	$(VPY) -m infra.local.run

migrate: $(STAMP)
	$(VPY) -m infra.local.run migrate

# pytest exits 5 when it collected nothing: that fails here like any other failure.
test: $(STAMP) x12-tools
	@$(VPY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests" >&2; fi; \
	exit $$status

# The reliability suites (tests/reliability.py), each a pytest run of its own; HEARTH_ENV as for
# make test (tests/conftest.py). KILL_TRIALS (per flow) and FUZZ_EXAMPLES lower the budget for a
# quick look; the floors (200 kills, 200 of them the payout run's, 5,000 requests) are checked at
# the full one.
RELIABILITY_WORKERS ?= 2
reliability: $(STAMP) x12-tools
	@$(VPY) -m tests.reliability --workers $(RELIABILITY_WORKERS) \
		$(if $(KILL_TRIALS),--kill-trials $(KILL_TRIALS)) \
		$(if $(FUZZ_EXAMPLES),--fuzz-examples $(FUZZ_EXAMPLES)) $(RELIABILITY_ARGS)

# Settings refuse to load without HEARTH_ENV; these local commands say theirs (make run's is
# set by infra/local/run.py, make test's by tests/conftest.py).
demo: $(STAMP)
	HEARTH_ENV=$${HEARTH_ENV:-development} $(VPY) -m infra.demo

bench: $(STAMP)
	HEARTH_ENV=$${HEARTH_ENV:-development} $(VPY) -m infra.bench

clean:
	rm -rf $(VENV) $(X12VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache
	find . -path ./.data -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
