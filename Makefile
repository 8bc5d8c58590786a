# The two commands that matter: `make demo` (the service offline) and `make test`.
# Both create .venv and install the pinned tools first; only Python 3.11+ and make are needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV)/.installed
STACK ?= snowflake-sentiment
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/common
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: test lint unit demo local bench snowflake-sql clean

$(STAMP): requirements-dev.txt constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

# checkov has a virtualenv of its own: its dependencies conflict with the pinned tools above.
$(CHECKOV_STAMP): constraints-checkov.txt
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install --quiet -r constraints-checkov.txt
	touch $(CHECKOV_STAMP)

lint: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(AWS_DEFAULT_REGION)
	BC_SKIP_MAPPING=TRUE $(CHECKOV)/bin/checkov --file template.yaml --framework cloudformation --compact --quiet --skip-download

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint unit

demo: $(STAMP)
	$(BIN)/python -m local demo

local: $(STAMP)
	$(BIN)/python -m local serve

bench: $(STAMP)
	$(BIN)/python -m bench.run

snowflake-sql: $(STAMP)
	$(BIN)/python -m local sql --stack $(STACK)

clean:
	rm -rf $(VENV) $(CHECKOV) .pytest_cache .aws-sam
