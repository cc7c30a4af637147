# Two entry points: `make serve` (the report on the embedded MNIST sample) and `make test`.
# Both create the virtual environment from pyproject.toml and constraints.txt first if it is
# missing or stale.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test chromium benchmark

# The package with its training and test extras, every package pinned to what was last tested.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[train-cpu,test]"
	touch $@

serve: $(STAMP)
	$(VENV)/bin/aereport serve $(ARGS)

chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

tests/js/node_modules: tests/js/package-lock.json
	cd tests/js && npm ci --silent --no-audit --no-fund
	touch $@

# Two workers: most tests wait on a browser, a server or a subprocess, so two files at a time use
# both cores; a file stays on one worker (--dist loadfile) with its module's server and browser,
# files in the order tests/conftest.py gives (longest first; xdist would put the most tests first).
WORKERS ?= 2

# The layers first (pyproject.toml's import-linter contracts): seconds, and a broken one fails the run.
test: $(STAMP) chromium tests/js/node_modules
	$(VENV)/bin/lint-imports --no-cache
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder $(ARGS)

benchmark: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python benchmarks/foundation.py --data-dir ../shared/data/mnist
