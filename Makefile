# engage: `make run` serves the demo site, `make test` runs the suite.
# Each target bootstraps what it needs: a .venv with the project installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432

.PHONY: run test test-postgres lint bench install system-deps clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install engage with its dev extras

# Debian packages the test suite drives for real (a browser, an IMAP server).
SYSTEM_PACKAGES := chromium dovecot-imapd
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: $(STAMP) ## migrate, train the default model if none, load demo data, serve
	$(BIN)/engage db upgrade
	$(BIN)/engage train --if-missing
	$(BIN)/engage demo
	@# The worker sends queued email and retries failed work while the site runs.
	$(BIN)/engage worker --workers 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/engage run --host $(HOST) --port $(PORT)

test: $(STAMP) system-deps ## the whole suite (SQLite; set ENGAGE_TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/python -m pytest

test-postgres: $(STAMP) system-deps ## the whole suite again on a fresh PostgreSQL database
	@./.ci/with-postgres $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
