# The two commands of the README. Both set up everything they need first (.ci/setup.sh).
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup run test lint bench

setup:
	@bash .ci/setup.sh

# Open the desktop app on the DynamicNet example. Without a display it renders the window
# offscreen to out/dynamicnet.png instead, and exports the step graphs to out/export/.
run: setup
	@if [ -n "$$DISPLAY$$WAYLAND_DISPLAY" ]; then \
	  $(VENV)/bin/graphstage --example dynamicnet_torch; \
	else \
	  echo "no display: rendering offscreen to out/ instead"; mkdir -p out; \
	  QT_QPA_PLATFORM=offscreen $(VENV)/bin/graphstage --example dynamicnet_torch --steps 20 --step 5 --at 0.6 --screenshot out/dynamicnet.png && \
	  $(VENV)/bin/graphstage export dynamicnet_torch --steps 5 --format png -o out/export && \
	  echo "wrote out/dynamicnet.png and out/export/"; \
	fi

# ruff first (seconds), then the suite; tests/test_package.py runs the import-linter layering
# contracts (pyproject.toml) on the wheel as installed.
test: setup
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check .
	bash .ci/lint-imports.sh

bench: setup
	$(PY) benchmarks/trace_overhead.py
