# podnex: `make dev` runs the whole service on embedded defaults; `make test` runs the test suite.
# Both create ./.venv and install the project from pyproject.toml on first use (and when it changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: dev test lint format typecheck bench quality clean install

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@touch $(STAMP)

dev: $(STAMP)
	$(BIN)/python -m podnex.devstack

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy podnex api workflows activities worker.py
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(STAMP)
	$(BIN)/mypy podnex api workflows activities worker.py

# Benchmarks (issues #8, #20): about 20 minutes; results go to bench/README.md. BENCH_ARGS=--big
# for the larger run (python -m bench --help lists every flag). The Celery + Redis baseline
# (celery from the bench extra) needs Debian's redis-server: the bench apt-get installs it
# when missing, or skips that baseline and says why.
BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	PODNEX_BENCH_FROM_MAKE=1 $(BIN)/python -m bench $(BENCH_ARGS)

# Episode quality (issue #13): real notes from this machine -> script -> espeak -> MP3,
# measured (length, verbatim share, questions, repeats, unspeakable tokens, loudness,
# balance, pitch). A few minutes; QUALITY_ARGS="--write docs/quality.md" keeps the table.
quality: $(STAMP)
	$(BIN)/python -m bench.quality $(QUALITY_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
