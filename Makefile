# Bowout: `make run` serves the app, `make test` runs the whole suite. Both set up what they need
# the first time and skip it after.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := .make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_URL ?= postgres://postgres@127.0.0.1:5432/bowout
REDIS_TEST_URL ?= redis://127.0.0.1:6379/0

WORKERS ?= 4
HOST ?= 127.0.0.1
PORT ?= 8000
# Proxies whose X-Forwarded-Proto/For uvicorn believes (the reverse proxy in front of `make serve`).
FORWARDED_ALLOW_IPS ?= 127.0.0.1

.PHONY: run serve demo test test-sqlite test-services lint typecheck check format install chromium nginx bench bench-quick screenshots

install: $(STAMPS)/venv

$(STAMPS)/venv: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	@mkdir -p $(STAMPS) && touch $@

# Debian's Chromium, driven by Playwright in the browser tests (no browser download at run time).
chromium: $(STAMPS)/chromium
$(STAMPS)/chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; \
	fi
	@mkdir -p $(STAMPS) && touch $@

# Debian's nginx, the reverse proxy of deploy/nginx that tests/test_nginx.py runs the chat through.
nginx: $(STAMPS)/nginx
$(STAMPS)/nginx:
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq nginx-light; \
	fi
	@mkdir -p $(STAMPS) && touch $@

run: install
	$(PY) manage.py migrate --noinput
	@echo "Bowout on http://$(HOST):$(PORT) — sign up there. Model: $$([ -n "$$ANTHROPIC_API_KEY" ] && echo Claude || echo 'offline demo (set ANTHROPIC_API_KEY for Claude)')"
	$(PY) manage.py runserver $(HOST):$(PORT)

# Production: several uvicorn workers against PostgreSQL and Redis, behind a reverse proxy (README,
# "Deployment"). SIGTERM drains each worker's streaming replies for BOWOUT_DRAIN_SECONDS.
serve: install
	@test -n "$$DATABASE_URL" && test -n "$$REDIS_URL" || { \
		echo "make serve needs DATABASE_URL (PostgreSQL) and REDIS_URL: its $(WORKERS) workers share them." >&2; exit 1; }
	@test -n "$$DJANGO_SECRET_KEY" || { echo "make serve needs DJANGO_SECRET_KEY." >&2; exit 1; }
	DJANGO_DEBUG=0 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=0 $(PY) manage.py check --deploy
	DJANGO_DEBUG=0 exec $(PY) -m uvicorn config.asgi:application --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) --proxy-headers --forwarded-allow-ips "$(FORWARDED_ALLOW_IPS)" --no-server-header

# A populated staff area to look around in: demo conversations, ends, events and requests.
demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Now create a staff account (make a superuser, or add a staff user to 'Welfare auditors'):"
	@echo "  $(PY) manage.py createsuperuser   then open http://127.0.0.1:8000/admin/welfare/ after make run"

# The whole suite on SQLite and the in-memory layer, then the database and channel-layer tests again
# on PostgreSQL and Redis when they are reachable (required in CI).
test: install chromium nginx
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-services

test-sqlite:
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest

# A pool of 20 in the test process: the race tests run up to 17 threads that each hold a connection.
test-services:
	@if $(PY) -c "import psycopg, redis; psycopg.connect('$(PG_URL)'.rsplit('/', 1)[0] + '/postgres').close(); redis.Redis.from_url('$(REDIS_TEST_URL)').ping()" 2>/dev/null; then \
		DATABASE_URL=$(PG_URL) REDIS_URL=$(REDIS_TEST_URL) BOWOUT_DB_POOL_SIZE=20 $(PY) -m pytest -m "not browser" -p no:cacheprovider; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at $(PG_URL) or Redis at $(REDIS_TEST_URL) is not reachable, and CI needs both." >&2; exit 1; \
	else \
		echo "Skipping the PostgreSQL + Redis run: start them, or set PG_URL / REDIS_TEST_URL."; \
	fi

# Style, and the import rules of docs/architecture.md as a contract ([tool.importlinter] in pyproject.toml).
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports

# mypy with django-stubs over the app code ([tool.mypy] in pyproject.toml).
typecheck: install
	$(PY) -m mypy

# What CI and the pre-commit hooks check besides the tests.
check: lint typecheck

format: install
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Streaming benchmark (benchmarks/run.py): Bowout on SQLite (1 worker) and on PostgreSQL + Redis
# (1, 2 and 4 workers: database bowout_bench, Redis db 7), the bare-ASGI floor and the canonical Channels
# peer, same load, same run. Numbers on stdout; JSON and PNG in benchmarks/results/. < 20 min / < 2 min.
$(STAMPS)/bench: $(STAMPS)/venv
	$(PY) -m pip install --quiet -e ".[test,bench]"
	@mkdir -p $(STAMPS) && touch $@

bench: $(STAMPS)/bench
	$(PY) benchmarks/run.py
	$(PY) benchmarks/page.py

bench-quick: $(STAMPS)/bench
	$(PY) benchmarks/run.py --quick

# PNGs of the pages people see (README), at 1280 px and 390 px, light and dark: a server of its own with
# content made through Chromium (tools/screenshots.py). Written to docs/screenshots/.
screenshots: install chromium
	$(PY) tools/screenshots.py
