# Two commands on a fresh machine with Python 3.11 and make: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
DATABASE_URL ?= sqlite:///./data/summit.db
export DATABASE_URL

# The PostgreSQL server `make test-postgres` runs the whole suite against (one database per test).
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres

.PHONY: install migrate seed run test test-postgres lint bench clean

# The virtual environment, re-installed whenever pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# What the browser tests inject into pages (axe-core), from npm's registry, pinned by the lock.
# Without npm they skip, saying why (.ci/run installs it).
BROWSER_DEPS := tests/browser/node_modules/.installed
$(BROWSER_DEPS): tests/browser/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --prefix tests/browser --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the browser tests of the pages will skip"; fi

migrate: install
	mkdir -p data
	$(BIN)/alembic upgrade head

# Seeds an empty database only: a restart must not undo what writes through the API changed.
seed: migrate
	$(BIN)/python -m seed --if-empty

run: seed
	$(BIN)/uvicorn --factory app.main:create_app --host 127.0.0.1 --port $(PORT) --no-access-log \
		--loop asyncio

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install $(BROWSER_DEPS) lint
	$(BIN)/pytest

test-postgres: install $(BROWSER_DEPS)
	TEST_POSTGRES_URL=$(TEST_POSTGRES_URL) $(BIN)/pytest

# Minutes, not seconds: see the README's Benchmark section. Not part of `make test`.
bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
