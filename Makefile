# Centrale: `make run` serves the demo, `make test` runs the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run serve test test-postgres fuzz lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## run and serve are the laptop's demo: CENTRALE_ENV=development accepts the shipped
## SECRET_KEY, which production (gunicorn wsgi:app, celery, centrale without it) refuses.
run serve: export CENTRALE_ENV = development

## run: install, migrate the SQLite database under instance/, load catalogue, FEDER programme
## and demo data, serve
run: install
	$(BIN)/centrale db upgrade
	$(BIN)/centrale catalog load catalog/
	$(BIN)/centrale subsidies load demo/feder.yaml
	$(BIN)/centrale demo
	$(BIN)/centrale ledger post
	$(MAKE) serve

serve: install
	SESSION_COOKIE_SECURE=0 $(BIN)/centrale run --host $(HOST) --port $(PORT)

## test: the whole suite (SQLite by default; TEST_DATABASE_URL=postgresql+psycopg://... for PostgreSQL)
test: install
	$(BIN)/pytest

test-postgres: install
	TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test $(BIN)/pytest

## fuzz: the whole API fuzzed from its OpenAPI document as every role, far longer than in
## `make test` (FUZZ_EXAMPLES per operation and role; TEST_DATABASE_URL=... for PostgreSQL)
FUZZ_EXAMPLES ?= 100
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -p no:randomly

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: every benchmark of bench/ (each prints its figures and checks its targets; all run,
## then the status says whether some target was missed). One of them, with arguments:
##   make bench-billing_run ARGS="--members 500 --subscriptions 10000 --renderer weasyprint"
bench: install
	@failed=""; for script in bench/[!_]*.py; do echo "== $$script"; \
	  $(BIN)/python $$script || failed="$$failed $$script"; done; \
	  if [ -n "$$failed" ]; then echo "targets missed by:$$failed"; exit 1; fi

bench-%: install
	$(BIN)/python bench/$*.py $(ARGS)

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
