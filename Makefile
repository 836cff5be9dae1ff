# MLOps Portal. `make run` for the embedded demo, `make test` for the whole suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
export UV_PYTHON_DOWNLOADS := never
RUN := $(UV) run --frozen
HOST ?= 127.0.0.1
PORT ?= 8000

# The test suite runs against real PostgreSQL and Redis, never the demo's SQLite.
TEST_ENV := PORTAL_ENV_FILE= DEBUG=true \
	DATABASE_URL=$${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/mlops_portal} \
	CELERY_BROKER_URL=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	CELERY_RESULT_BACKEND=$${TEST_REDIS_URL:-redis://127.0.0.1:6379/15} \
	CACHE_URL=$${TEST_CACHE_URL:-redis://127.0.0.1:6379/14} \
	CELERY_TASK_ALWAYS_EAGER=true

.PHONY: help run test test-fast lint format migrate bench

help:
	@echo "make run    - install, migrate, create demo users, serve http://$(HOST):$(PORT)"
	@echo "make test   - the whole suite (real PostgreSQL, Redis, Celery worker, Chromium)"
	@echo "make lint   - ruff"
	@echo "make bench  - portal vs the FastAPI baseline under wrk; writes bench/RESULTS.md"

.tools/bin/uv:
	python3 -m venv .tools && .tools/bin/pip install --quiet uv

# Bytecode compiled once here: where PYTHONDONTWRITEBYTECODE is set, every process (gunicorn
# worker, Celery worker, manage.py) would otherwise compile its imports anew, ~25 s each.
.venv/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --compile-bytecode
	@touch $@

.env:
	@echo "Writing .env for the embedded demo (DEBUG=true, SQLite, in-process tasks)"
	@printf 'DEBUG=true\nSECRET_KEY=%s\n' "$$(python3 -c 'import secrets; print(secrets.token_urlsafe(64))')" > .env

run: .venv/.synced .env
	$(RUN) python manage.py migrate --noinput
	$(RUN) python manage.py bootstrap_demo --url http://$(HOST):$(PORT)
	$(RUN) python manage.py runserver $(HOST):$(PORT)

test: .venv/.synced
	bin/ensure-services
	bin/ensure-chromium
	bin/ensure-prometheus
	bin/ensure-nginx
	$(TEST_ENV) $(RUN) pytest

test-fast: .venv/.synced
	bin/ensure-services
	bin/ensure-prometheus
	$(TEST_ENV) $(RUN) pytest -m "not browser"

lint: .venv/.synced
	$(RUN) ruff check .
	$(RUN) ruff format --check .

format: .venv/.synced
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

# Side by side with the FastAPI baseline (bench/baselines), on 127.0.0.1 only; BENCH_ARGS=--quick.
bench: .venv/.synced
	bin/ensure-services
	bin/ensure-wrk
	$(RUN) python bench/run.py $(BENCH_ARGS)
