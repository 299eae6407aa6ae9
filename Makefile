# Studio: `make run` starts the UI and the prediction service; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test browser postgres bench help

help:
	@echo "make run    - set up and start the UI (http://127.0.0.1:8501) and the service (:8080)"
	@echo "make test   - set up and run the whole test suite (on SQLite, then on PostgreSQL)"
	@echo "make bench  - run the benchmarks in bench/ (needs ../shared/datasets)"

$(STAMP): requirements.txt
	@# LightGBM's wheel links the system's OpenMP runtime (Debian: libgomp1); without it the
	@# studio still runs and simply leaves LightGBM out of its searches.
	@if ! find /usr/lib /usr/lib64 /lib /lib64 -maxdepth 2 -name 'libgomp.so.1' 2>/dev/null \
	     | grep -q .; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing Debian's libgomp1 (OpenMP, for LightGBM)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libgomp1) >/dev/null \
	      || echo "could not install libgomp1: searches run without LightGBM"; \
	  else echo "note: libgomp1 is missing (apt-get install libgomp1); searches run without LightGBM"; fi; \
	fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

setup: $(STAMP)

# Debian's Chromium drives the browser tests (Playwright's own download is not used).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "installing Debian's chromium for browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	fi

# Debian's PostgreSQL: the suite starts a throwaway cluster from it (tests/pg_cluster.py).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
	  echo "installing Debian's postgresql for the PostgreSQL test pass"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null; \
	fi

run: setup
	$(PY) -m studio run

# Two passes: the whole suite on SQLite (the default store), then the suite without the
# browser tests on a throwaway PostgreSQL cluster (every test's store a fresh database;
# tests that never open a store are not repeated). Each pass prints its own summary line;
# the exit code is the first failing pass's.
test: setup browser postgres
	@status=0; \
	echo "== pass 1/2: SQLite, the whole suite"; \
	$(PY) -m pytest || status=$$?; \
	echo "== pass 2/2: PostgreSQL, the suite without browser tests"; \
	STUDIO_TEST_BACKEND=postgres $(PY) -m pytest -m "not browser" || { rc=$$?; [ $$status -ne 0 ] || status=$$rc; }; \
	exit $$status

bench: setup
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/ingest.py
	$(PY) bench/serve.py
	$(PY) bench/automl.py
