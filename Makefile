# Two entry points (see README): `make run` and `make test`; `make bench` runs the benchmark.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := var/sample

.PHONY: run web screenshots test lint typecheck pytest bench fuzz system-deps clean

run: $(VENV)/.runtime
	$(BIN)/deskmail sample init --dir $(SAMPLE)
	$(BIN)/deskmail run-once --config $(SAMPLE)/deskmail.toml --show
	@echo
	$(BIN)/deskmail tickets list --config $(SAMPLE)/deskmail.toml

# The web UI and API on the sample made by `make run`: http://127.0.0.1:8642/ (the first
# visit, from this machine, opens the set-up page of the first administrator).
web: $(VENV)/.runtime
	$(BIN)/deskmail sample init --dir $(SAMPLE)
	$(BIN)/deskmail web --config $(SAMPLE)/deskmail.toml

# The README's pictures of the screens, taken by a browser test on the sample.
screenshots: $(VENV)/.test
	DESKMAIL_SCREENSHOTS=docs/screenshots $(BIN)/pytest -p no:xdist -q tests/web/test_screenshots.py

test: system-deps $(VENV)/.test lint typecheck pytest

lint: $(VENV)/.test
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.test
	$(BIN)/mypy

pytest: $(VENV)/.test
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: $(VENV)/.test
	$(BIN)/python bench/ingest.py --all

# Coverage-guided fuzzing (fuzz/README.md): FUZZ_SECONDS per target; findings in var/fuzz/crashes/.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= parser pipeline
fuzz: $(VENV)/.test
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

system-deps:
	scripts/system-deps.sh

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.test: pyproject.toml | $(VENV)/bin/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.runtime

clean:
	rm -rf $(VENV) var
