# Haven: two commands from a fresh clone.
#   make run   installs what is needed, starts Kafka + FerretDB and all services (Ctrl-C stops them)
#   make test  installs what is needed and runs the whole suite against the real stack
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Re-install only when the dependency set changes.
INSTALLED := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)

CHROMIUM := /usr/bin/chromium
# kustomize, built from the Go module proxy, to check the manifests render as the tests expect.
KUSTOMIZE_VERSION := v5.7.1
KUSTOMIZE := $(HOME)/.cache/haven/bin/kustomize-$(KUSTOMIZE_VERSION)

.PHONY: install prepare browser run test lint stack-up stack-down clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "haven: Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(INSTALLED): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(INSTALLED)

# Kafka jars (Maven Central) and the FerretDB binary (Go module proxy), cached outside git.
prepare: install
	$(BIN)/haven stack prepare

# Debian's Chromium, for the console's browser test (Playwright drives it; it never downloads one).
$(CHROMIUM):
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); export DEBIAN_FRONTEND=noninteractive; \
	$$SUDO apt-get install -y -q chromium || { $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium; }

browser: $(CHROMIUM)

$(KUSTOMIZE):
	@command -v go >/dev/null 2>&1 || { echo "haven: Go is needed to build kustomize (go not found)"; exit 1; }
	mkdir -p $(dir $@)
	GOBIN=$(dir $@) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(dir $@)kustomize $@

run: prepare
	$(BIN)/haven stack up
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(BIN)/haven serve all

test: prepare browser $(KUSTOMIZE) lint
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HAVEN_KUSTOMIZE=$(KUSTOMIZE) $(BIN)/python -m pytest

# Lint and format (ruff), then types (mypy --strict on streams/, services/ and tools/).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

stack-up: prepare
	$(BIN)/haven stack up

stack-down:
	$(BIN)/haven stack down

clean: stack-down
	rm -rf .haven
