# Registre des refus PDSES — `make run` serves the demo, `make test` runs the whole suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
PYTHON ?= python3
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/postgres
BENCH_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432
# pytest-xdist: one process per core (measured on 2), each with its own database; a module
# stays on one worker (its servers and its order). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: run test test-pg bench lint format install install-dev clean audit secrets-baseline

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Demo mode: a built-in cookie key and the demo password; never for production.
run: export REGISTRE_DEMO ?= 1
run: $(VENV)/.installed
	$(VENV)/bin/registre init --demo
	@echo "Registre des refus PDSES : http://127.0.0.1:$(PORT)"
	$(VENV)/bin/streamlit run Home.py --server.port $(PORT) --server.address 127.0.0.1

# Every test, on SQLite (the PostgreSQL-only ones excepted: make test-pg).
test: $(VENV)/.installed-dev
	$(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# What touches the database, the browser tests included, on PostgreSQL; the engine-independent
# tests already ran in make test (REGISTRE_TEST_EVERYTHING=1 runs them here too).
test-pg: $(VENV)/.installed-dev
	REGISTRE_TEST_DATABASE_URL=$(PG_TEST_URL) $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

# The performance targets (issue 7) on a generated registry of a million dossiers, one table
# (benchmarks/bench.py; about 25 minutes the first time, 15 once the databases exist).
bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks.bench --database-url $(BENCH_DATABASE_URL) $(BENCH_ARGS)

# Known vulnerabilities in the installed dependencies (pip-audit asks PyPI's advisory
# database: it needs that network access, which the CI machine does not have).
audit: $(VENV)/.installed-dev
	$(PY) -m pip install --quiet pip-audit
	$(VENV)/bin/pip-audit --progress-spinner off

# After checking that each new finding is not a secret (tests/test_no_secrets.py).
secrets-baseline: $(VENV)/.installed-dev
	git ls-files -z | grep -zv '^.secrets.baseline$$' | xargs -0 $(VENV)/bin/detect-secrets scan > .secrets.baseline

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts
