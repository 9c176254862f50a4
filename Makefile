# Every target sets itself up: a fresh machine needs only Python 3.11.
PYTHON ?= python3.11
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PG_URL ?= $(MAILWRIGHT_TEST_DATABASE_URL)

.PHONY: setup test lint test-sqlite test-postgres demo bench serve clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# pytest exits 5 when it collected no test: reported, not mistaken for a crash.
PYTEST = sh -c '"$$0" "$$@"; s=$$?; if [ $$s -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$s' $(BIN)/pytest

test-sqlite: setup
	env -u MAILWRIGHT_TEST_DATABASE_URL $(PYTEST)

# The same suite against PostgreSQL, when a server is given (CI gives one). Pure-model tests ran above.
test-postgres: setup
	@if [ -n "$(PG_URL)" ]; then \
		MAILWRIGHT_TEST_DATABASE_URL="$(PG_URL)" $(PYTEST) -m "not nodb"; \
	else echo "MAILWRIGHT_TEST_DATABASE_URL not set: PostgreSQL run skipped"; fi

test: lint test-sqlite test-postgres

demo: setup
	$(BIN)/mailwright demo

bench: setup
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

serve: setup
	$(BIN)/mailwright serve

clean:
	rm -rf $(VENV) .tools var .mypy_cache .ruff_cache .pytest_cache
