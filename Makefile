# Studio: `make run` starts the UI and the prediction service; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup run test browser postgres bench help

help:
	@echo "make run    - set up and start the UI (http://127.0.0.1:8501) and the service (:8080)"
	@echo "make test   - set up and run the whole test suite"
	@echo "make bench  - run the benchmarks in bench/ (needs ../shared/datasets)"

$(STAMP): requirements.txt
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

test: setup browser postgres
	$(PY) -m pytest

bench: setup
	$(PY) -m pip install --quiet -r bench/requirements.txt
	$(PY) bench/ingest.py
	$(PY) bench/serve.py
	$(PY) bench/automl.py
