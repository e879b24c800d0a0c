# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint clean

install: $(STAMP)

# The OPA engine's wheel declares Python >= 3.14 but runs on 3.11 (see docs/install.md),
# so it is installed on its own with --ignore-requires-python, pinned.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,helm]'
	$(PY) -m pip install --quiet --ignore-requires-python opa-golib-python-bindings==0.4.4
	touch $(STAMP)

demo: install
	$(VENV)/bin/gitops-checker check fixtures/estates/odoo-finance; echo "gitops-checker exit code: $$?"

test: install
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check checker tests scripts bench rules
	$(VENV)/bin/mypy checker

clean:
	rm -rf $(VENV) build *.egg-info
