# The README's commands: `make install`, then `make test`.
PYTHON ?= python3

.PHONY: install test lint fuzz soak bench

install:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[test]"
	npm ci --no-audit --no-fund --loglevel=error

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

test: lint
	$(PYTHON) -m pytest -q -n 2

# The long profiles (not part of `make test`): over 10,000 fuzzed requests; the soak.
fuzz:
	PIXXEL_FUZZ_EXAMPLES=400 $(PYTHON) -m pytest -q -s tests/test_fuzz.py

soak:
	$(PYTHON) -m bench.soak --requests 1000000

bench:
	$(PYTHON) -m bench
