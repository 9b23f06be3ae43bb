# crowdmarket: `make run` serves the demo on SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BENCH_VENV ?= .venv-bench
HOST ?= 127.0.0.1:8000

.PHONY: install run demo test lint format bench bench-install clean chromium

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

install: $(VENV)/.installed

run: install
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py collectstatic --noinput -v0
	DEBUG=1 $(PY) manage.py load_demo
	DEBUG=1 $(PY) manage.py runserver $(HOST)

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used);
# install it where missing. Without it the e2e tests skip with a loud message.
chromium:
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium) \
		|| echo "!! could not install chromium: the e2e browser tests will be skipped"

# Two processes: the suite is CPU-bound and the machine has two cores.
PYTEST_ARGS ?= -n 2
test: install chromium
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

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
	$(BENCH_VENV)/bin/python -m bench.aggregation $(BENCH_ARGS) || status=1; \
	$(BENCH_VENV)/bin/python -m bench.overlap $(BENCH_ARGS) || status=1; \
	exit $$status

clean:
	rm -rf $(VENV) $(BENCH_VENV) db.sqlite3 staticfiles
