# crowdmarket: `make run` serves the demo on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BENCH_VENV ?= .venv-bench
HOST ?= 127.0.0.1:8000

.PHONY: install run demo test check lint format bench bench-install clean chromium fuzz faults \
	backup-check

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py collectstatic --noinput -v0
	DEBUG=1 $(PY) manage.py load_demo --base-url http://$(HOST)
	DEBUG=1 SITE_URL=http://$(HOST) $(PY) manage.py runserver $(HOST)

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
# `make test` never installs it: without it the e2e tests skip with a loud message. CI
# (`.ci/run`) calls this target first.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/tmp/apt-chromium.log 2>&1) \
		|| echo "!! could not install chromium: the e2e browser tests will be skipped"

# Conventions, checked before every test run: lint and format, the import contracts
# (.importlinter), and types on payments and the service/selector layers.
MYPY_PATHS ?= payments accounts/services.py tasks/services.py tasks/submission.py tasks/selectors.py \
	tasks/review.py tasks/escrow.py tasks/closed_slots.py tasks/lifecycle.py tasks/locking.py tasks/bonuses.py \
	tasks/work tasks/quality tasks/annotation tasks/schema.py tasks/media tasks/exports tasks/ingest tasks/assist \
	tasks/fairness tasks/find_work.py tasks/api/find_work.py tasks/payfloor.py tasks/pay_pilot.py tasks/block_list.py marketplace/mturk
check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy $(wildcard $(MYPY_PATHS))
	$(VENV)/bin/bandit -q -r accounts tasks payments marketplace -x '*/migrations/*' --severity-level high

# schemathesis against a live test server as a requester and as a worker, every phase
# (schema examples, boundary values, random fuzzing, stateful), FUZZ_MAX_EXAMPLES per operation.
# `make test` runs the same test with a small budget and the fuzzing phase only.
FUZZ_MAX_EXAMPLES ?= 100
fuzz: install
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) FUZZ_PHASES=examples,coverage,fuzzing,stateful \
		$(PY) -m pytest -p no:xdist tests/hardening/test_fuzz.py

# The fault tests at the issue's sizes (make test runs them smaller): 1,000 webhook events;
# the Celery kills need PostgreSQL (DATABASE_URL) and Redis (FAULT_REDIS_URL, default db 2).
faults: install
	BURST_EVENTS=1000 $(PY) -m pytest -p no:xdist tests/hardening/test_webhook_burst.py \
		tests/hardening/test_faults_celery.py tests/hardening/test_faults_partial_state.py

# The whole suite on the configured database (DATABASE_URL; SQLite when unset) and, when that
# is not SQLite, once more on SQLite: `make run` serves on SQLite and its claim/submit SQL differs.
# The SQLite rerun covers the code whose SQL differs by database: the claim and submit paths
# (BEGIN IMMEDIATE instead of SKIP LOCKED), the ledger, the pages and the demo `make run` serves;
# the rest does not depend on the database and ran once above (CI has 15 minutes on 2 cores).
# Two processes: the suite is CPU-bound and the machine has two cores.
PYTEST_ARGS ?= -n 2
SQLITE_RERUN_ARGS ?= -m "not e2e" tests/tasks/test_claiming.py tests/tasks/test_work_sql.py \
	tests/tasks/test_core_loop.py tests/tasks/test_submit_follow_up.py tests/payments tests/web \
	tests/test_demo.py tests/test_demo_annotation.py tests/test_celery.py
test: check
	$(PY) -m pytest $(PYTEST_ARGS)
	@case "$${DATABASE_URL:-sqlite}" in sqlite*) ;; *) \
		echo "== again on SQLite: the suites whose SQL differs by database =="; \
		env -u DATABASE_URL $(PY) -m pytest $(PYTEST_ARGS) $(SQLITE_RERUN_ARGS);; esac

lint: check

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

$(BENCH_VENV)/.installed: requirements.txt bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -r requirements.txt -r bench/requirements.txt
	touch $@

bench-install: $(BENCH_VENV)/.installed

# Benchmarks need PostgreSQL (claim, ingest); BENCH_DATABASE_URL names a scratch database.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/crowdmarket_bench
# Every benchmark runs even when an earlier one misses its target; the exit code says if any did.
bench: install bench-install
	@status=0; \
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.claim $(BENCH_ARGS) || status=1; \
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.ingest $(BENCH_ARGS) || status=1; \
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.review_queue $(BENCH_ARGS) || status=1; \
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.submit_follow_up $(BENCH_ARGS) || status=1; \
	$(BENCH_VENV)/bin/python -m bench.aggregation $(BENCH_ARGS) || status=1; \
	$(BENCH_VENV)/bin/python -m bench.overlap $(BENCH_ARGS) || status=1; \
	$(BENCH_VENV)/bin/python -m bench.annotation $(BENCH_ARGS) || status=1; \
	$(PY) -m bench.closed_loop $(BENCH_ARGS) || status=1; \
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.quality_rules $(BENCH_ARGS) || status=1; \
	DATABASE_URL=$(BENCH_DATABASE_URL) $(PY) -m bench.load $(BENCH_ARGS) || status=1; \
	exit $$status

# Dump DATABASE_URL, restore it into a scratch database, compare, check the books, drop it.
backup-check: install
	PYTHON=$(PY) bash docs/deploy/backup-restore-check.sh

clean:
	rm -rf $(VENV) $(BENCH_VENV) db.sqlite3 staticfiles
