# The README's commands: `make install`, then `make test`.
PYTHON ?= python3

.PHONY: install test lint

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	npm ci --no-audit --no-fund --loglevel=error

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: lint
	$(PYTHON) -m pytest -q -n 2
