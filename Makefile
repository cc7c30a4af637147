# Two entry points: `make serve` (the report on the embedded MNIST sample) and `make test`.
# Both create the virtual environment from pyproject.toml and constraints.txt first if it is
# missing or stale.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test test-latest test-min chromium benchmark

# The package with its training and test extras, every package pinned to what was last tested.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e ".[train-cpu,notebook,test]"
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

# Everything CI runs: the suite on the locked versions, then the numeric core on the floors.
test: test-latest test-min

# The layers first (pyproject.toml's import-linter contracts): seconds, and a broken one fails the run.
test-latest: $(STAMP) chromium tests/js/node_modules
	$(VENV)/bin/lint-imports --no-cache
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder $(ARGS)

# The floors of pyproject.toml's ranges (constraints-min.txt) in a second venv. Only numpy, scipy,
# pyarrow, pillow, h5py and threadpoolctl sit below the lock there, so these tests (the readers,
# the store, NumPy inference, layouts, training, the TF.js writer: ~3 min) are the ones they could
# break; the browser and server tests would run the same Panel, Bokeh and HoloViews as test-latest.
MIN_VENV ?= .venv-min
MIN_TESTS := tests/test_data.py tests/test_readers.py tests/test_store.py tests/test_inference.py \
	tests/test_latent.py tests/test_model.py tests/test_layouts.py tests/test_training.py \
	tests/test_files.py tests/test_sprites.py tests/test_validation.py tests/test_tfjs.py

$(MIN_VENV)/.installed: pyproject.toml constraints-min.txt
	$(PYTHON) -m venv $(MIN_VENV)
	$(MIN_VENV)/bin/pip install -q --upgrade pip
	$(MIN_VENV)/bin/pip install -q -c constraints-min.txt -e ".[train-cpu,notebook,test]"
	touch $@

test-min: $(MIN_VENV)/.installed tests/js/node_modules
	TF_CPP_MIN_LOG_LEVEL=2 $(MIN_VENV)/bin/python -m pytest -n $(WORKERS) --dist loadfile -p no:cacheprovider $(MIN_TESTS)

benchmark: $(STAMP)
	TF_CPP_MIN_LOG_LEVEL=2 $(VENV)/bin/python benchmarks/foundation.py --data-dir ../shared/data/mnist
