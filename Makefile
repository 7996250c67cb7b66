# cobrador: two commands do everything: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql://postgres@127.0.0.1:5432/test
REDIS_CI_URL ?= redis://127.0.0.1:6379/0

.PHONY: test ci ci-deps lint typecheck unit integration screenshots demo clean install phone map

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

# The browser phone (JsSIP bundled by esbuild; needs node + npm): rebuilt when
# missing or older than its sources and lockfile.
PHONE_JS := console/static/phone.js
PHONE_SRC := console/phone-src/package.json console/phone-src/package-lock.json $(wildcard console/phone-src/src/*.js)

$(PHONE_JS): $(PHONE_SRC)
	scripts/build-phone

phone: $(PHONE_JS)

# The supervisors' field map (Leaflet bundled by esbuild; needs node + npm).
MAP_JS := console/static/map.js
MAP_SRC := console/map-src/package.json console/map-src/package-lock.json $(wildcard console/map-src/src/*)

$(MAP_JS): $(MAP_SRC)
	scripts/build-map

map: $(MAP_JS)

install: $(STAMP) $(PHONE_JS) $(MAP_JS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy cobrador store dialer compliance console metrics pbxsim deploy outreach field selfservice gateways

# pytest exits 5 when it collects no tests: that is a failure here, never a pass.
# Unit and component tests run on TEST_WORKERS pytest-xdist workers, each with
# its own Redis database (or embedded redis-server) and its own SQL databases;
# most of their time is spent waiting (sockets, simulated calls, subprocesses),
# so more workers than cores still pays. TEST_WORKERS=0 runs them in one process.
TEST_WORKERS ?= 4
# The serial tests (tests/conftest.py) then run one module at a time by default:
# alone they keep about a third of one core busy, and two at a time measured
# 22 % faster (bench/RESULTS.md, "Test suite wall time"), but on the loaded 2-core CI
# machine the deadline tests of this tier (test_pbxsim_vs_traces, the dialers killed
# with calls live) failed under load, and a red CI costs more than the minute saved.
# SERIAL_WORKERS=2 runs them two at a time.
SERIAL_WORKERS ?= 1
unit: $(STAMP) $(PHONE_JS) $(MAP_JS)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist worksteal -m "not integration and not serial" tests
	$(BIN)/pytest -q -n $(SERIAL_WORKERS) --dist loadfile --serial-tier -m "serial and not integration" tests

test: lint typecheck unit

# What the integration tier needs from Debian: Chromium, Prometheus, and
# Asterisk 22 in a debootstrap chroot (cached after the first run).
ci-deps: $(STAMP)
	scripts/ci-deps

# In CI a skipped integration test is a failure (COBRADOR_REQUIRE_INTEGRATION).
# Only tests/integration is collected: importing the other 4000 tests to deselect
# them took half a minute of a loaded CI. Screenshots go to build/screenshots/.
# Two pytest-xdist workers (INTEGRATION_WORKERS; 0 runs one process): the tests of
# the one chroot Asterisk all on one of them, in their order, and the browser,
# messaging and Prometheus tests, which do not touch it, on the other meanwhile
# (--asterisk-apart, tests/conftest.py). Most of this tier waits for calls in real
# time: one at a time it kept under a fifth of the two cores busy (bench/RESULTS.md).
INTEGRATION_WORKERS ?= 2
integration: $(STAMP)
	COBRADOR_REQUIRE_INTEGRATION=1 $(BIN)/pytest -q -n $(INTEGRATION_WORKERS) --asterisk-apart \
	  -m integration tests/integration

# The README's screenshots (docs/screenshots/): the browser tests, writing there
# instead of build/screenshots/. Real Chromium; the web phone's needs Asterisk too
# (make ci-deps), so on a shared machine run it under the Asterisk lock.
screenshots: $(STAMP) $(PHONE_JS) $(MAP_JS)
	COBRADOR_SCREENSHOTS_DIR=docs/screenshots COBRADOR_REQUIRE_INTEGRATION=1 \
	  $(BIN)/pytest -q -m integration tests/integration/browser \
	  tests/integration/asterisk/test_browser_phone.py

ci:
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} REDIS_URL=$${REDIS_URL:-$(REDIS_CI_URL)} $(MAKE) test
	$(MAKE) ci-deps
	DATABASE_URL=$${DATABASE_URL:-$(PG_URL)} REDIS_URL=$${REDIS_URL:-$(REDIS_CI_URL)} $(MAKE) integration

demo: $(STAMP) $(PHONE_JS) $(MAP_JS)
	$(BIN)/cobrador demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
