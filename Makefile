# Two commands from a fresh clone: `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test test-fast lint check bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

## make run: migrate the embedded SQLite database (or DATABASE_URL), load demo data when the
## database is empty, print a staff login, and serve the app with a django-q2 worker.
run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	@echo "Serving http://$(HOST):$(PORT)/admin/crm/ with a django-q2 worker (Ctrl-C stops both)"
	@trap 'kill 0' INT TERM EXIT; \
	  $(PY) manage.py qcluster & \
	  $(PY) manage.py runserver $(HOST):$(PORT)

## make test: the whole suite; DATABASE_URL when set, the embedded SQLite otherwise.
test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

## make bench: benchmarks on PostgreSQL at DATABASE_URL (see bench/README.md).
bench: install
	$(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* var staticfiles
