# The README's commands: `make install`, then `make serve` and `make test`.
# Everything runs from .venv, built from requirements.lock, never from the system Python.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
ARGS ?=

.PHONY: install serve test lint lock test-latest long fuzz soak bench

# A fresh virtualenv each time, so it holds exactly what the lock says.
install:
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q pixxel_mock mock_server contract_tests  # bytecode even where PYTHONDONTWRITEBYTECODE is set: ~60-90 ms of every start
	npm ci --no-audit --no-fund --loglevel=error
	scripts/install-browser.sh

serve:
	$(BIN)/pixxel-mock serve $(ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# loadgroup: a test file's tests share one worker (tests/conftest.py), so its module
# fixtures (a server, the wheel, the browser) are built once; 3 workers on 2 cores, as
# many tests wait on servers they start
test: lint
	$(BIN)/python -m pytest -q -n 3 --dist loadgroup

# Re-pin every dependency (after a change to pyproject.toml's ranges).
lock:
	$(BIN)/uv pip compile pyproject.toml --group dev --universal --python-version 3.11 \
		--generate-hashes --no-header --annotation-style line -o $(LOCK)

# The newest releases within pyproject's ranges, in their own virtualenv: a new release
# that breaks us shows here before a user meets it. Not part of CI.
test-latest:
	$(PYTHON) -m venv --clear $(VENV)-latest
	$(VENV)-latest/bin/python -m pip install --quiet --upgrade pip
	$(VENV)-latest/bin/python -m pip install --quiet -e . --group dev
	$(VENV)-latest/bin/python -m pip list --format=freeze | grep -iE '^(pytest|schemathesis|hypothesis|flask)=='
	$(VENV)-latest/bin/python -m pytest -q -n 2 -p no:cacheprovider

# The long profiles (not part of `make test`): the load, crash, fuzz and contract tests at
# full size (20 kill -9 rounds, 10,000 journal reads, over 10,000 fuzzed requests, 25
# examples per operation); the soak.
long:
	PIXXEL_PROFILE=long $(BIN)/python -m pytest -q -n 2 tests/test_fuzz.py tests/test_reliability.py \
		tests/test_journal.py tests/test_harness.py tests/test_plain_schemathesis.py

fuzz:
	PIXXEL_FUZZ_EXAMPLES=400 $(BIN)/python -m pytest -q -s tests/test_fuzz.py

soak:
	$(BIN)/python -m bench.soak --requests 1000000

bench:
	$(BIN)/python -m bench
