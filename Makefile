# The two commands that matter: `make demo` (the service offline) and `make test`.
# Both create .venv and install the pinned tools first; only Python 3.11+ and make are needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONPATH := $(CURDIR):$(CURDIR)/layers/common
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: test lint unit demo local clean

$(STAMP): requirements-dev.txt constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(AWS_DEFAULT_REGION)

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint unit

demo: $(STAMP)
	$(BIN)/python -m local demo

local: $(STAMP)
	$(BIN)/python -m local serve

clean:
	rm -rf $(VENV) .pytest_cache .aws-sam
