# Two commands a newcomer needs: `make run` (server on SQLite) and `make test` (everything CI checks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench bench-long fuzz screenshots clean

$(BIN)/tanktop: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/tanktop

run: install  ## set up, load the demo catalog and users, create a demo key, serve on SQLite
	@$(BIN)/tanktop migrate
	@$(BIN)/tanktop catalog demo
	@key=$$($(BIN)/tanktop keys create demo 2>/dev/null | tail -1) && \
	  $(BIN)/tanktop demo demo && \
	  $(BIN)/tanktop oauth enable demo --login-url http://$(HOST):$(PORT)/oauth/dev/demo/login && \
	  echo "An OAuth app to try the flows with (README, 'OAuth'):" && \
	  { $(BIN)/tanktop oauth clients create demo --name "Try-out app" \
	      --redirect-uri http://$(HOST):$(PORT)/oauth/dev/callback || true; } && \
	  echo "Your API key (service 'demo'), to sign in to the console or call the API:" && \
	  echo "$$key" && \
	  TANKTOP_OAUTH_DEV_LOGIN=$(if $(filter 127.0.0.1 localhost ::1,$(HOST)),1,0) \
	  exec $(BIN)/tanktop serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --no-cache --check .

typecheck: install
	$(BIN)/mypy

TEST_PROCESSES ?= 3

pytest: install  ## the suite in TEST_PROCESSES processes (pytest-xdist), each test file in one
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile

test: lint typecheck pytest  ## what CI runs

bench: install  ## needs wrk (apt-get install wrk) and pgbench (PostgreSQL)
	$(BIN)/python -m bench.hotpaths
	$(BIN)/python -m bench.asgi
	$(BIN)/python -m bench.flames
	$(BIN)/python -m bench.profiles
	$(BIN)/python -m bench.events
	$(BIN)/python -m bench.catalog
	$(BIN)/python -m bench.notifications
	$(BIN)/python -m bench.bookmarks
	$(BIN)/python -m bench.load
	$(BIN)/python -m bench.recommendations
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.oauth
	$(BIN)/python -m bench.serialisation
	$(BIN)/python -m bench.cli

bench-long: install  ## the benchmarks of many minutes each: section pages, live TV, rollups at scale
	$(BIN)/python -m bench.sections
	$(BIN)/python -m bench.live
	$(BIN)/python -m bench.rollup_cost
	$(BIN)/python -m bench.rollup_ab
	$(BIN)/python -m bench.analytics

fuzz: install  ## schemathesis against a real server, 500 examples per operation
	TANKTOP_FUZZ_EXAMPLES=500 $(BIN)/pytest tests/platform/test_fuzz.py -q

screenshots: install  ## a PNG of each console page in docs/console/ (needs Debian's chromium)
	$(BIN)/python -m tests.console.screenshots docs/console

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
