# cobrador: two commands do everything: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_CI_URL ?= redis://127.0.0.1:6379/0

.PHONY: test ci ci-deps lint typecheck unit integration demo clean install

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy cobrador store dialer compliance console metrics pbxsim deploy

# pytest exits 5 when it collects no tests: that is a failure here, never a pass.
unit: $(STAMP)
	$(BIN)/pytest -q -m "not integration" tests

test: lint typecheck unit

# What the integration tier needs from Debian: Chromium, Prometheus, and
# Asterisk 22 in a debootstrap chroot (cached after the first run).
ci-deps: $(STAMP)
	scripts/ci-deps

# In CI a skipped integration test is a failure (COBRADOR_REQUIRE_INTEGRATION).
integration: $(STAMP)
	COBRADOR_REQUIRE_INTEGRATION=1 $(BIN)/pytest -q -m integration tests

ci:
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} REDIS_URL=$${REDIS_URL:-$(REDIS_CI_URL)} $(MAKE) test
	$(MAKE) ci-deps
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} REDIS_URL=$${REDIS_URL:-$(REDIS_CI_URL)} $(MAKE) integration

demo: $(STAMP)
	$(BIN)/cobrador demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
