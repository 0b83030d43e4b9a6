# The targets are the documentation of how to work on aggregator.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test lint bench eval demo clean install bench-dedupe

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

install: $(STAMP)

## run: install, then run the main job: refresh every source, write the digest, print its path
# A refresh where some sources failed (exit 1, e.g. offline) still goes on to the digest.
run: $(STAMP) bytecode
	$(BIN)/aggregator refresh; status=$$?; [ $$status -le 1 ] || exit $$status
	$(BIN)/aggregator digest

## bytecode: compile aggregator/ to .pyc, as pip does for an installed package (an editable
## install under PYTHONDONTWRITEBYTECODE=1 would compile every module at every start, ~50 ms)
.PHONY: bytecode
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q aggregator

## test: install the test dependencies and run the whole suite
test: $(TSTAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## lint: ruff and mypy --strict
lint: $(TSTAMP)
	$(BIN)/ruff check aggregator tests bench demo
	$(BIN)/ruff format --check aggregator tests bench demo
	$(BIN)/mypy aggregator

## bench: refresh benchmark against a local feed farm (prints figures, asserts nothing)
bench: $(TSTAMP) bytecode
	$(BIN)/python -m bench.refresh

## bench-store: the store writer alone (a cold refresh's saves and dedupe, no fetch or parse)
.PHONY: bench-store
bench-store: $(TSTAMP)
	$(BIN)/python -m bench.store $(if $(FEEDS),--feeds $(FEEDS))

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache

## docs: regenerate docs/settings.md from the declared settings table (a test checks it is current)
.PHONY: docs
docs: $(STAMP)
	$(BIN)/python -m aggregator.settings > docs/settings.md

## demo: serve recorded feeds and pages on 127.0.0.1, refresh, send the digest to an .eml; print the paths (no internet)
demo: $(STAMP)
	$(BIN)/python -m demo.run

## digest-png: render the demo's HTML digest to var/digest.png with headless Chromium (nothing is committed)
.PHONY: digest-png
CHROMIUM ?= $(shell command -v chromium || command -v chromium-browser || command -v google-chrome || echo /usr/bin/chromium)
digest-png: demo
	@test -x "$(CHROMIUM)" || (apt-get update && apt-get install -y chromium) || { echo "digest-png: no Chromium found; install it (apt-get install -y chromium) or set CHROMIUM=" >&2; exit 2; }
	profile=$$(mktemp -d) && html=$$(ls -t var/demo/data/digests/daily/*.html | head -n 1) && \
	"$(CHROMIUM)" --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --no-first-run --disable-sync --hide-scrollbars \
		--user-data-dir="$$profile" --screenshot="$(CURDIR)/var/digest.png" --window-size=900,2000 \
		"file://$(CURDIR)/$$html"; status=$$?; rm -rf "$$profile"; exit $$status
	@echo "png:   $(CURDIR)/var/digest.png"

## eval: dedupe pairwise precision, recall and F1 on the labelled set (tests/data/dedupe/)
eval: $(STAMP)
	$(BIN)/python -m aggregator.dedupe.eval

## bench-dedupe: dedupe cost per new item at 10k, 100k and 1M stored items (SQLite; SIZES=...)
bench-dedupe: $(TSTAMP)
	$(BIN)/python -m bench.dedupe $(if $(SIZES),--sizes $(SIZES))

## bench-distributed: 1, 2 and 4 worker processes on 2,000 local feeds (PostgreSQL + Redis; FEEDS=...)
.PHONY: bench-distributed
bench-distributed: $(TSTAMP)
	$(BIN)/python -m bench.distributed --feeds $(or $(FEEDS),2000) --workers 1 2 4

## bench-api: the JSON API with 100k stored items under 32 connections (p50, p99, req/s)
.PHONY: bench-api schemathesis check-page
bench-api: $(TSTAMP)
	$(BIN)/python -m bench.api

## schemathesis: the API against its OpenAPI document, more examples than `make test` runs
schemathesis: $(TSTAMP)
	AGGREGATOR_SCHEMATHESIS_EXAMPLES=100 $(BIN)/python -m pytest tests/test_api_schema.py -q

## check-page: the digest page at / in headless Chromium (installed with apt when missing)
check-page: $(STAMP)
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)
	$(BIN)/python -m bench.page
