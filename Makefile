# Two entry points for a fresh machine: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install browser demo test test-fast lint clean

install: $(STAMP)

# The OPA engine's wheel declares Python >= 3.14 but runs on 3.11 (see docs/install.md),
# so it is installed on its own with --ignore-requires-python, pinned.
# Then a wheelhouse of exactly the venv's packages (less the Helm SDK and Playwright, which
# the hooks do not need) plus the build backend, so tests/gitgates/test_precommit.py builds pre-commit hook
# environments offline (`pip download`: `pip wheel` disregards --ignore-requires-python).
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,helm]'
	$(PY) -m pip install --quiet --ignore-requires-python opa-golib-python-bindings==0.4.4
	$(PY) -m pip freeze --exclude-editable | grep -v -i -E '^(helm-python-sdk|playwright)==' > $(VENV)/constraints.txt
	$(PY) -m pip download --quiet --no-deps --only-binary=:all: --ignore-requires-python \
		-d $(VENV)/wheelhouse -r $(VENV)/constraints.txt 'setuptools>=68'
	touch $(STAMP)

# The nightly report's browser tests drive Debian's Chromium (tests/nightly/test_browser.py).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(VENV)/bin/gitops-checker check fixtures/estates/odoo-finance; echo "gitops-checker exit code: $$?"

test: install browser
	$(PY) -m pytest

test-fast: install
	$(PY) -m pytest -m "not slow"

lint: install
	$(VENV)/bin/ruff check checker tests scripts bench rules
	$(VENV)/bin/mypy checker

clean:
	rm -rf $(VENV) build *.egg-info
