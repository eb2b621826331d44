# The two commands of the README: `make run` and `make test`. Everything else is a step of theirs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup setup-dev lint check migrate demo serve worker beat messages clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

setup: $(VENV)/.installed
setup-dev: $(VENV)/.installed-dev

## run: set up, migrate, load the demo chain and serve the back office on 127.0.0.1:8000 (SQLite, in-process tasks)
run: setup
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(PY) manage.py migrate --no-input
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(PY) manage.py demo
	DJANGO_DEBUG=$${DJANGO_DEBUG-1} $(PY) manage.py runserver $(HOST):$(PORT)

## test: set up, lint, check, and run the tests (PostgreSQL when DATABASE_URL is set, else SQLite)
test: setup-dev lint check
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

check: setup-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

messages: setup-dev
	$(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore=.venv --ignore=staticfiles
	$(PY) manage.py makemessages -l zh_Hans -d djangojs --no-obsolete --ignore=.venv --ignore=staticfiles
	$(PY) manage.py compilemessages --ignore=.venv

## Production shape (see README): gunicorn, a Celery worker and Celery beat, all configured by environment.
serve: setup
	$(PY) manage.py collectstatic --no-input
	$(VENV)/bin/gunicorn -c config/gunicorn.py config.wsgi --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY-4}

worker: setup
	$(VENV)/bin/celery -A config worker --loglevel=INFO

beat: setup
	$(VENV)/bin/celery -A config beat --loglevel=INFO

clean:
	rm -rf $(VENV) staticfiles db.sqlite3 db.sqlite3-wal db.sqlite3-shm
