# Huifang: `make demo` runs the app with demo data; `make test` runs the whole suite.
VENV   ?= .venv
PY     := $(VENV)/bin/python
FLASK  := $(VENV)/bin/flask --app app
STAMP  := $(VENV)/.installed
PORT   ?= 5000
# Links in the demo's messages and printed survey links point at the port the app runs on.
export PUBLIC_BASE_URL ?= http://127.0.0.1:$(PORT)
# PostgreSQL runs beside SQLite in `make test` (set TEST_PG= to skip it on a machine without one).
TEST_PG ?= postgresql://postgres@127.0.0.1:5432/huifang_test

.PHONY: demo install test test-sqlite test-pg lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)
	./scripts/system-deps.sh runtime

demo: install
	@rm -f instance/huifang.db
	$(FLASK) init-db
	$(FLASK) seed-demo
	@echo "Starting the scheduler and the web app on http://127.0.0.1:$(PORT) (Ctrl-C stops both)"
	@# Ctrl-C stops the web app; the trap then stops the scheduler by its pid (not `kill 0`, which
	@# also signalled make and the shell mid-teardown) and waits for it to finish cleanly.
	@$(FLASK) scheduler & pid=$$!; trap 'kill -TERM $$pid 2>/dev/null; wait $$pid 2>/dev/null' INT TERM EXIT; \
		$(FLASK) run --host 127.0.0.1 --port $(PORT) || true

test: $(STAMP)
	./scripts/system-deps.sh test
	$(VENV)/bin/ruff check .
	$(MAKE) test-sqlite
	@if [ -n "$(TEST_PG)" ]; then ./scripts/postgres-up.sh && $(MAKE) test-pg; fi

# The page checkers tests/test_a11y.py runs (axe-core, the Nu HTML checker), as locked.
NODE_STAMP := node_modules/.package-lock.json
$(NODE_STAMP): package-lock.json
	npm ci --silent --no-audit --no-fund

test-sqlite: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/pytest -n 2 -q

# The markup checks (axe, vnu, phone widths) read the same HTML on either database: run once.
test-pg: $(STAMP) $(NODE_STAMP)
	TEST_DATABASE_URL=$(TEST_PG) $(VENV)/bin/pytest -n 2 -q -m "not markup"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# The benchmarks on SQLite, then on PostgreSQL (BENCH_PG= skips it). About 15 minutes.
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/huifang
bench: install
	./scripts/system-deps.sh test
	$(PY) -m bench $(BENCH_ARGS)
	@if [ -n "$(BENCH_PG)" ]; then ./scripts/postgres-up.sh && BENCH_DATABASE_URL=$(BENCH_PG) $(PY) -m bench $(BENCH_ARGS); fi

clean:
	rm -rf $(VENV) instance .pytest_cache node_modules
