# eventbook: `make run` serves the API, `make test` runs the tests,
# `make openapi` rewrites the committed OpenAPI snapshot (docs/openapi.json),
# `make bench` measures the API under load (docs/benchmarks.md; needs PostgreSQL).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint openapi bench clean

run: $(VENV)/.runtime .env
	$(BIN)/flask db upgrade
	$(BIN)/flask seed
	$(BIN)/gunicorn wsgi:app

test: $(VENV)/.dev
	$(BIN)/pytest

openapi: $(VENV)/.runtime .env
	$(BIN)/flask openapi write --format=json docs/openapi.json

# Options: make bench BENCH_ARGS="--duration 3 --repeat 1" (python -m bench --help).
bench: $(VENV)/.bench
	@command -v wrk >/dev/null || { apt-get update && apt-get install -y wrk; }
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

$(VENV)/.bench: requirements.txt bench/requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r bench/requirements.txt
	touch $@ $(VENV)/.runtime

# A random SECRET_KEY, kept across restarts so tokens stay valid.
.env:
	@echo "Creating .env with a random SECRET_KEY"
	@$(PYTHON) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(48))' > $@

clean:
	rm -rf $(VENV) .pytest_cache
