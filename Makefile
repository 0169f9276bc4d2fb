# eventbook: `make run` serves the API, `make test` runs the tests,
# `make openapi` rewrites the committed OpenAPI snapshot (docs/openapi.json),
# `make bench` measures the API under load (docs/benchmarks.md; needs PostgreSQL),
# `make worker` runs a webhook delivery worker (docs/deployment.md).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run worker test lint openapi bench clean secret-key

# gunicorn, and one webhook delivery worker beside it; Ctrl-C stops both.
run: $(VENV)/.runtime .env secret-key
	$(BIN)/flask db upgrade
	$(BIN)/flask seed
	@$(BIN)/python -c "$$RUN_BANNER"
	$(BIN)/flask deliver-webhooks & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(BIN)/gunicorn wsgi:app

worker: $(VENV)/.runtime .env secret-key
	$(BIN)/flask deliver-webhooks

define RUN_BANNER
import os
from dotenv import load_dotenv
load_dotenv()
url = f"http://{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
print(f"\neventbook: {url}  (docs: {url}/docs, {url}/redoc)")
print("Demo logins: user1@test.com ... user5@test.com and organizer@test.com, password password123\n")
endef
export RUN_BANNER

# One pytest worker per core (TEST_WORKERS=1 for one process); the tests of
# one group (the cluster, the browser) stay on one worker.
TEST_WORKERS ?= auto

test: $(VENV)/.dev
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

openapi: $(VENV)/.runtime .env secret-key
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

# A .env without a usable SECRET_KEY (one copied from .env.example) gets one,
# unless the environment sets it.
secret-key: .env
	@[ -n "$$SECRET_KEY" ] || grep -Eq '^SECRET_KEY=.{32,}' .env || { \
	  echo "Adding a random SECRET_KEY to .env"; \
	  sed -i.bak '/^SECRET_KEY=/d' .env && rm -f .env.bak; \
	  [ -z "$$(tail -c 1 .env)" ] || echo >> .env; \
	  $(PYTHON) -c 'import secrets; print("SECRET_KEY=" + secrets.token_urlsafe(48))' >> .env; }

clean:
	rm -rf $(VENV) .pytest_cache
