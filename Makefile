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

.PHONY: test lint unit demo local bench model snowflake-sql clean mutants

# The tools install from hashed lock files (make lock), the whole set as listed: pip checks every
# file's sha256 and builds no sdist (it would not hash-check an sdist's build dependencies);
# --no-deps spares old pips' trouble with hashed extras, and pip check proves the set complete.
# A .pth file puts the repository and layers/common on .venv's path, so `.venv/bin/python -m local ...`
# works as the README prints it, without PYTHONPATH (an editable install would build a wheel, unhashed).
$(STAMP): requirements-dev.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip check
	$(BIN)/python -c 'import sys, sysconfig; open(sysconfig.get_path("purelib") + "/snowflake-sentiment.pth", "w").write("\n".join(sys.argv[1:]) + "\n")' $(CURDIR) $(CURDIR)/layers/common
	touch $(STAMP)

# checkov has a virtualenv of its own: its dependencies conflict with the pinned tools above.
$(CHECKOV_STAMP): requirements-checkov.lock
	$(PYTHON) -m venv $(CHECKOV)
	$(CHECKOV)/bin/python -m pip install --quiet --require-hashes --only-binary :all: --no-deps -r requirements-checkov.lock
	$(CHECKOV)/bin/python -m pip check
	touch $(CHECKOV_STAMP)

# Rewrites the lock files from the exact pins (requirements-dev.txt with constraints.txt, and
# constraints-checkov.txt), hashing every file of each pinned release so that the locks install on
# x86_64 and aarch64 and on Python 3.11 to 3.14; pip-tools runs in a throwaway virtualenv. Not part of make test.
.PHONY: lock
lock:
	venv=$$(mktemp -d) && $(PYTHON) -m venv $$venv && $$venv/bin/python -m pip install --quiet pip-tools==7.6.2 && \
	compile() { CUSTOM_COMPILE_COMMAND="make lock" $$venv/bin/pip-compile --quiet --generate-hashes \
		--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links "$$@"; } && \
	compile -c constraints.txt -o requirements-dev.lock requirements-dev.txt && \
	compile -o requirements-checkov.lock constraints-checkov.txt; \
	status=$$?; rm -rf $$venv; exit $$status

# Python first (ruff's lint and format, mypy --strict on the deployed code, pyproject.toml), then the template.
lint: $(STAMP) $(CHECKOV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(BIN)/sam validate --lint --region $(AWS_DEFAULT_REGION)
	BC_SKIP_MAPPING=TRUE $(CHECKOV)/bin/checkov --config-file .checkov.yaml --file template.yaml --framework cloudformation --compact --quiet --skip-download

# The fast tier alone (tests/unit: plain functions, no emulated AWS), in seconds.
unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

# Every check: the lint above, then every tier of tests (unit, offline, template, tooling).
test: lint
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m local demo

# The API on PORT (3000) and the emulated AWS on AWS_PORT (5055), both on HOST (127.0.0.1);
# HOST=0.0.0.0 make local lets `sam local start-api`'s containers reach the emulated AWS.
local: $(STAMP)
	$(BIN)/python -m local serve

bench: $(STAMP)
	$(BIN)/python -m bench.run

# The discrete-event model of a whole Snowflake query at real quotas (bench/results/model.md).
model: $(STAMP)
	$(BIN)/python -m bench.model $(ARGS)

snowflake-sql: $(STAMP)
	$(BIN)/python -m local sql --stack $(STACK)

# Mutation testing of the core modules against the fast tests (pyproject.toml [tool.mutmut]),
# one mutant at a time; not part of `make test`. mutmut has a virtualenv of its own (its click
# conflicts with the SAM CLI's) and runs in .mutmut/work, where sentiment_service/ sits beside
# functions/ so that mutated files' paths match their import names. Every run starts afresh.
mutants:
	mkdir -p .mutmut && echo '*' > .mutmut/.gitignore
	if [ ! -f .mutmut/venv/.installed ] || [ requirements-mutants.txt -nt .mutmut/venv/.installed ] || [ constraints.txt -nt .mutmut/venv/.installed ]; then \
		rm -rf .mutmut/venv && $(PYTHON) -m venv .mutmut/venv && \
		grep -v '^click==' constraints.txt > .mutmut/constraints.txt && \
		.mutmut/venv/bin/python -m pip install --quiet --upgrade pip && \
		.mutmut/venv/bin/python -m pip install --quiet -r requirements-mutants.txt -c .mutmut/constraints.txt && \
		touch .mutmut/venv/.installed; fi
	rm -rf .mutmut/work && mkdir .mutmut/work
	cd .mutmut/work && ln -s ../../layers/common/sentiment_service ../../functions ../../tests ../../local ../../bench ../../statemachine ../../events ../../template.yaml ../../pyproject.toml .
	cd .mutmut/work && env -u PYTHONPATH ../venv/bin/mutmut run --max-children 1 > ../run.log 2>&1 || { tail -40 ../run.log; exit 1; }
	cd .mutmut/work && ../venv/bin/mutmut results
	cd .mutmut/work && ../venv/bin/python -c 'import json, pathlib; \
	runs = {str(meta)[8:-8]: list(json.loads(meta.read_text())["exit_code_by_key"].values()) for meta in sorted(pathlib.Path("mutants").rglob("*.py.meta"))}; \
	caught = lambda codes: sum(code not in (0, 5, 33, None) for code in codes); \
	[print(f"{path:38} {caught(codes):4} of {len(codes):4} caught ({100 * caught(codes) / len(codes):5.1f}%), {codes.count(0)} survived, {codes.count(33) + codes.count(5)} untested") for path, codes in runs.items() if codes]'

clean:
	rm -rf $(VENV) $(CHECKOV) .pytest_cache .mypy_cache .ruff_cache .aws-sam .mutmut
