# learnrace: the two README commands are `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# Find a Python >= 3.12: python3.13 / python3.12 / python3 on PATH (pyenv shims that are not
# active fail their --version check and are skipped), then pyenv's installed versions.
define FIND_PYTHON
for c in python3.14 python3.13 python3.12 python3; do \
  if command -v $$c >/dev/null 2>&1 && $$c -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then command -v $$c; exit 0; fi; \
done; \
for c in $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3; do \
  if [ -x "$$c" ] && "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo "$$c"; exit 0; fi; \
done; exit 1
endef

.PHONY: run test test-fast lint format bench ui datasets lock clean-env

$(STAMP): pyproject.toml requirements.lock
	@PYBIN=$$( $(FIND_PYTHON) ) || { echo "learnrace needs Python >= 3.12: install python3.12 (or newer) and put it on PATH." >&2; exit 1; }; \
	  if [ ! -x "$(PY)" ]; then echo "creating $(VENV) with $$PYBIN"; "$$PYBIN" -m venv $(VENV); fi
	@$(PY) -m pip install --quiet --upgrade pip uv
	@$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	@$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/learnrace run

test: $(STAMP)
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

bench: $(STAMP)
	$(VENV)/bin/python -m bench.run_all

ui: $(STAMP)
	$(VENV)/bin/learnrace ui

datasets: $(STAMP)
	$(VENV)/bin/learnrace datasets build --raw-dir ../shared/data/raw

lock: $(STAMP)
	$(VENV)/bin/uv pip compile --no-header --python-version 3.12 --extra dev pyproject.toml -o requirements.lock

clean-env:
	rm -rf $(VENV)
