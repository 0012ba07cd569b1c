# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Embedded defaults for demo and tests: SQLite under var/, tasks eager, debug on.
EMBEDDED := DJANGO_DEBUG=1 DATABASE_URL= CELERY_BROKER_URL=

.PHONY: install demo test lint bench loadtest drills migrate serve worker clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

migrate: install
	$(EMBEDDED) $(PY) manage.py migrate --noinput

# `make demo PORT=8123` serves on another port, with seed_demo's printed links to match.
PORT ?= 8000
demo: migrate
	$(EMBEDDED) $(PY) manage.py seed_demo --base-url http://127.0.0.1:$(PORT)
	$(EMBEDDED) $(PY) manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(EMBEDDED) $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(EMBEDDED) $(PY) -m bench --record $(BENCH)

# On demand, not part of `make test`: a Prolific launch on gunicorn + PostgreSQL + Celery/Redis
# (docs/hardening.md). Locust lives in its own venv: it registers a pytest plugin wherever it is installed.
LOAD_VENV := .venv-load
$(LOAD_VENV)/.installed: requirements-load.txt
	test -d $(LOAD_VENV) || $(PYTHON) -m venv $(LOAD_VENV)
	$(LOAD_VENV)/bin/pip install --quiet -r requirements-load.txt
	touch $@

loadtest: install $(LOAD_VENV)/.installed
	$(PY) loadtest/run.py $(if $(filter mixed,$(SCENARIO)),--mixed) $(if $(RESULTS_CLIENTS),--results-clients $(RESULTS_CLIENTS)) $(if $(USERS),--users $(USERS)) $(if $(RAMP),--ramp $(RAMP)) $(if $(THINK),--think $(THINK)) $(if $(WORKERS),--workers $(WORKERS))

drills: install
	$(PY) loadtest/drills.py

# Production shape on this machine: see README "Running on PostgreSQL, Redis and Celery".
serve: install
	$(VENV)/bin/gunicorn config.wsgi -c gunicorn.conf.py

worker: install
	$(VENV)/bin/celery -A config worker --loglevel=INFO --concurrency 2

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache
