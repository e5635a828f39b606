# Two commands do all set-up on a fresh machine:
#   make demo   train on the Adult data, register with lineage, verify the ledger
#   make test   lint, type-check and run the whole test suite (SQLite and PostgreSQL)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit bench clean lock

# Python may write its bytecode caches (__pycache__, ignored by git) even where the shell
# says not to: without them every process the tests start (gateways, servers, CLI calls, each
# pytest worker's collection) compiles govml's modules and the tests again.
unexport PYTHONDONTWRITEBYTECODE

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt --upgrade setuptools
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@# Headless Chromium for the HTML and PDF document tests: Debian's package, never a download.
	@command -v chromium >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
		|| echo "chromium not installed: the browser tests will be skipped"; }
	@# Prometheus and promtool for the alerting-rule and scrape tests: Debian's package.
	@command -v promtool >/dev/null 2>&1 || { command -v apt-get >/dev/null 2>&1 && \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; } \
		|| echo "prometheus not installed: the Prometheus tests will be skipped"; }
	@# axe-core for the web UI's accessibility checks, pinned in tests/ui/package-lock.json.
	@command -v npm >/dev/null 2>&1 && npm ci --prefix tests/ui --no-audit --no-fund --silent \
		|| echo "npm not found or offline: the web UI accessibility checks will be skipped"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

typecheck: $(STAMP)
	$(BIN)/mypy

# Files go to the two workers in collection order (integration tests, the longest, first):
# xdist's default order, most tests first, left single long tests (the demo, the tutorial)
# to run alone at the end while the other worker idled. A file is one unit, but files marked
# with one xdist_group share a worker (the two Spark files: one Spark session, not two).
unit: $(STAMP)
	$(BIN)/pytest -n 2 --dist loadgroup --no-loadscope-reorder

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_registry.py
	$(BIN)/python benchmarks/bench_profile.py

# Regenerate the pinned versions from the current environment.
lock: $(STAMP)
	$(BIN)/pip freeze --all --exclude-editable --exclude pip | grep -v '^-e ' > constraints.txt

clean:
	rm -rf $(VENV) .govml .pytest_cache .mypy_cache .ruff_cache
