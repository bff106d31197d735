"""Bowout settings: one module, environment-driven, defaults that run on a fresh checkout."""

import os
from pathlib import Path
from typing import Any

import dj_database_url

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"

# Never "*" in production: any Host header would pass, and with it any page's origin on the socket.
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
if "*" in ALLOWED_HOSTS and not DEBUG:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must name the site's hosts when DJANGO_DEBUG is off, not '*'"
    )
# The site's one address, e.g. https://chat.example.com (config/site_url.py): links in emails and the
# login lockout use it whatever Host header a request sent. Set it in production.
BOWOUT_SITE_URL = env_str("BOWOUT_SITE_URL", "").rstrip("/")
if BOWOUT_SITE_URL:
    from config.site_url import canonical_host

    if canonical_host(BOWOUT_SITE_URL).rsplit(":", 1)[0].strip("[]") not in [
        h.strip("[]") for h in ALLOWED_HOSTS
    ]:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("BOWOUT_SITE_URL's host must be one of DJANGO_ALLOWED_HOSTS")
    ACCOUNT_DEFAULT_HTTP_PROTOCOL = BOWOUT_SITE_URL.split(":", 1)[0]
# Origins besides the site's own that may post forms and open sockets (scheme://host[:port]).
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "accounts",
    "chat",
    "welfare_admin",
]

MIDDLEWARE = [
    "config.site_url.SiteUrlMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "chat.logfields.RequestIdMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chat.context_processors.bowout",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------------------------
# SQLite by default (WAL, IMMEDIATE transactions, a busy timeout) so that async workers writing at
# once queue up instead of failing with "database is locked"; PostgreSQL when DATABASE_URL says so.
DATABASE_URL = env_str("DATABASE_URL", "")
# Connections each worker process keeps open to PostgreSQL at most (psycopg's pool, below). A deployment
# holds workers x BOWOUT_DB_POOL_SIZE connections at most: keep that under PostgreSQL's max_connections.
BOWOUT_DB_POOL_SIZE = env_int("BOWOUT_DB_POOL_SIZE", 10, minimum=1)
# How long a request waits for a free pooled connection before it fails (seconds).
BOWOUT_DB_POOL_TIMEOUT = env_float("BOWOUT_DB_POOL_TIMEOUT", 10.0, minimum=0.1)
if DATABASE_URL:
    # A pool per process (Django's `pool` option, psycopg_pool): under ASGI each sync call may run on
    # another thread, and persistent connections (CONN_MAX_AGE > 0) left one connection per thread that
    # nobody reused (two workers reached 98 of 100). With the pool, CONN_MAX_AGE must be 0: closing a
    # connection hands it back to the pool, and the pool never opens more than max_size.
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": min(2, BOWOUT_DB_POOL_SIZE),
        "max_size": BOWOUT_DB_POOL_SIZE,
        "timeout": BOWOUT_DB_POOL_TIMEOUT,
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("BOWOUT_SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "CONN_MAX_AGE": None,  # one connection per thread for the life of the process: no reopen per call
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # A file, not the shared in-memory database, so tests see real locking and WAL; one per
            # process, so two test runs side by side do not pull it from under each other.
            "TEST": {"NAME": str(BASE_DIR / f".test-db-{os.getpid()}.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels ---------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    # The pub/sub layer: fan-out to every worker without the default layer's silent drops at capacity;
    # a worker's publishes go out together (chat/layers.py).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.layers.BatchedRedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    # Channels' in-memory layer, with a fan-out that touches only the group's sockets (chat/layers.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "chat.layers.FanOutInMemoryChannelLayer"}}

# --- Shared cache (login rate limits, quotas) -----------------------------------------------------
# Shared by every worker and kept over restarts, so a limit counted on one worker holds on the others:
# Redis when REDIS_URL is set, otherwise a table in the database (made by `createcachetable`).
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "bowout_cache",  # made by migration chat 0006
            # The default (300) would cull live counters once a few hundred users are active.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Accounts (django-allauth) ---------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
# Mandatory outside debug: only then can signup avoid saying that an email is already registered
# (allauth's enumeration prevention answers both cases with "check your email"). Development keeps
# signing up in one step.
ACCOUNT_EMAIL_VERIFICATION = env_str("BOWOUT_EMAIL_VERIFICATION", "optional" if DEBUG else "mandatory")
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
# allauth's limits, counted in the shared cache; the admin logs in through the same form (config/urls.py).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",  # 5 wrong passwords for one email lock it for 5 minutes
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
}
ACCOUNT_PREVENT_ENUMERATION = True
# Behind N reverse proxies, the client's IP (for the per-IP limits) is the Nth address from the right of
# X-Forwarded-For; 0 uses the connection's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("BOWOUT_TRUSTED_PROXY_COUNT", 0)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "chat:home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
EMAIL_BACKEND = env_str("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "bowout@localhost")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Static files ----------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Where `collectstatic` puts the files the reverse proxy serves (deploy/nginx/bowout.conf).
STATIC_ROOT = Path(env_str("BOWOUT_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Serve straight from static/ so no collectstatic step is needed; fine at Bowout's few files.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Deployment: HTTPS and security headers (`manage.py check --deploy` passes with no warnings) ------
# Production (DJANGO_DEBUG=0) is HTTPS only: redirect, HSTS, secure cookies. DJANGO_HTTPS=0 (or the older
# DJANGO_SECURE_COOKIES=0) serves plain HTTP, e.g. on loopback in tests.
HTTPS = env_bool("DJANGO_HTTPS", env_bool("DJANGO_SECURE_COOKIES", not DEBUG))
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
# Behind a TLS-terminating proxy, the header that says the visitor used HTTPS (e.g. X-Forwarded-Proto). Only
# set it when the proxy always overwrites that header: anyone can send it. (uvicorn's --proxy-headers does the
# same for proxies listed in FORWARDED_ALLOW_IPS; `make serve` uses that.)
_PROXY_SSL_HEADER = env_str("DJANGO_PROXY_SSL_HEADER", "")
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): scripts and styles only from our own files, no inline code, no
# eval (htmx runs with allowEval off and its indicator styles in bowout.css), sockets to this origin.
# Enforced in production; report-only while debugging, so Django's debug pages keep their inline styles.
from csp.constants import NONE, SELF  # noqa: E402

_CSP = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if DEBUG:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CSP
else:
    CONTENT_SECURITY_POLICY = _CSP

# One line per record with the fields an operator follows a reply or a request by (chat/logfields.py);
# Django's own errors (a 500's traceback) go to the same stream in production too: Django's default sends
# them only to the console while debugging, and otherwise to ADMINS by mail, which is not set up.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"fields": {"()": "chat.logfields.ContextFilter"}},
    "formatters": {
        "fields": {
            "format": "%(asctime)s %(levelname)s %(name)s: %(message)s [user=%(user_id)s "
            "conversation=%(conversation_id)s reply=%(reply_id)s request=%(request_id)s]"
        }
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["fields"], "formatter": "fields"},
    },
    "loggers": {
        "bowout": {"handlers": ["console"], "level": env_str("BOWOUT_LOG_LEVEL", "INFO")},
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}

# --- The model --------------------------------------------------------------------------------
# With no ANTHROPIC_API_KEY, Bowout talks to its built-in simulator of the Messages API.
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY", "")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL", "")
BOWOUT_MODEL = env_str("BOWOUT_MODEL", "claude-sonnet-5-5")
# The models a user may pick per chat when a model server is configured (comma-separated); the default,
# BOWOUT_MODEL, is always one of them. Offline there is one model, the simulator's.
BOWOUT_MODELS = list(dict.fromkeys([BOWOUT_MODEL, *env_list("BOWOUT_MODELS", [])]))
# Thinking tokens count against max_tokens: leave room for them as well as the visible reply.
BOWOUT_MAX_TOKENS = env_int("BOWOUT_MAX_TOKENS", 16000, minimum=1)
# adaptive (the current models' default), enabled (a fixed budget), between_tools (the lowest setting the
# current models accept) or off (send no thinking parameter: for servers without thinking, e.g. Ollama).
BOWOUT_THINKING = env_choice("BOWOUT_THINKING", "adaptive", {"adaptive", "enabled", "between_tools", "off"})
# summarized returns a summary of Claude's reasoning (kept for the API and shown to staff labelled as
# reasoning, never to the user as Claude's words); omitted returns only the signature.
BOWOUT_THINKING_DISPLAY = env_choice("BOWOUT_THINKING_DISPLAY", "summarized", {"summarized", "omitted"})
BOWOUT_THINKING_BUDGET = env_int("BOWOUT_THINKING_BUDGET", 4096, minimum=1024)
# Empty: the model's default effort.
BOWOUT_EFFORT = env_choice("BOWOUT_EFFORT", "", {"", "low", "medium", "high", "xhigh", "max"})
# Prompt caching: each turn reads the conversation so far from the cache instead of paying for it again.
BOWOUT_PROMPT_CACHE = env_bool("BOWOUT_PROMPT_CACHE", True)
BOWOUT_MAX_RETRIES = env_int("BOWOUT_MAX_RETRIES", 2)
BOWOUT_REQUEST_TIMEOUT = env_float("BOWOUT_REQUEST_TIMEOUT", 120.0, minimum=1.0)
# A 429/529 asking to wait longer than this (seconds) is not retried while the user reads "writing…": the
# reply fails at once and says when to try again.
BOWOUT_RETRY_AFTER_MAX_WAIT = env_float("BOWOUT_RETRY_AFTER_MAX_WAIT", 10.0)
BOWOUT_SYSTEM_PROMPT_FILE = env_str(
    "BOWOUT_SYSTEM_PROMPT_FILE", str(BASE_DIR / "chat" / "prompts" / "system.md")
)
BOWOUT_SIMULATOR_DELAY = env_float("BOWOUT_SIMULATOR_DELAY", 0.03)
BOWOUT_MAX_MESSAGE_CHARS = env_int("BOWOUT_MAX_MESSAGE_CHARS", 20_000, minimum=1)
# Custom instructions (a user's settings page) are context, not a second system prompt: kept short.
BOWOUT_CUSTOM_INSTRUCTIONS_MAX_CHARS = env_int("BOWOUT_CUSTOM_INSTRUCTIONS_MAX_CHARS", 1_500, minimum=1)
# How long deltas are gathered before one fragment crosses the channel layer.
BOWOUT_STREAM_FLUSH_SECONDS = env_float("BOWOUT_STREAM_FLUSH_SECONDS", 0.05)
# How often a streaming reply's text is saved (and at its end): what a crashed worker may lose.
BOWOUT_CHECKPOINT_SECONDS = env_float("BOWOUT_CHECKPOINT_SECONDS", 1.0)
# Messages a chat's page shows at first; "Load earlier messages" brings as many again each time.
BOWOUT_PAGE_MESSAGES = env_int("BOWOUT_PAGE_MESSAGES", 50, minimum=1)

# --- Quotas per user (chat/quotas.py), counted in the shared cache ----------------------------------
# Messages sent, retried or edited (each is a model call) per minute: a token bucket that holds this many
# and refills evenly over a minute, so quick bursts of short messages pass (chat/quotas.py).
BOWOUT_MESSAGES_PER_MINUTE = env_int("BOWOUT_MESSAGES_PER_MINUTE", 30, minimum=1)
# Replies being written at once across all of a user's chats.
BOWOUT_CONCURRENT_REPLIES = env_int("BOWOUT_CONCURRENT_REPLIES", 3, minimum=1)
# New chats and branches (Edit) per hour.
BOWOUT_NEW_CHATS_PER_HOUR = env_int("BOWOUT_NEW_CHATS_PER_HOUR", 30, minimum=1)
# Model tokens (input + output of saved replies) per UTC day.
BOWOUT_TOKENS_PER_DAY = env_int("BOWOUT_TOKENS_PER_DAY", 1_000_000, minimum=1)
# How often an open socket re-reads its session from the session store (deleted, expired, password set).
BOWOUT_SESSION_RECHECK_SECONDS = env_float("BOWOUT_SESSION_RECHECK_SECONDS", 30.0, minimum=0.05)
# Ratings, end feedback and appeals per minute (each is a row staff read).
BOWOUT_FEEDBACK_PER_MINUTE = env_int("BOWOUT_FEEDBACK_PER_MINUTE", 20, minimum=1)
# Open sockets (tabs) per user; opening one more closes the oldest.
BOWOUT_OPEN_SOCKETS = env_int("BOWOUT_OPEN_SOCKETS", 10, minimum=1)

# --- Ending conversations (the welfare policy) -----------------------------------------------------
from chat.welfare import DEFAULT_CRISIS_TERMS  # noqa: E402  (a pure module: no Django imports)

# The operator's switch for Claude's ability to end chats; users can always end their own.
BOWOUT_MODEL_CAN_END = env_bool("BOWOUT_MODEL_CAN_END", True)
# An end for abuse needs at least this many abusive user messages, the last one after a warning.
BOWOUT_MIN_USER_TURNS_BEFORE_END = env_int("BOWOUT_MIN_USER_TURNS_BEFORE_END", 3)
# An optional second check by a small Claude model before an end for abuse (chat/second_opinion.py).
BOWOUT_SECOND_CHECK = env_bool("BOWOUT_SECOND_CHECK", False)
BOWOUT_SECOND_CHECK_MODEL = env_str("BOWOUT_SECOND_CHECK_MODEL", "claude-haiku-4-5")
BOWOUT_SECOND_CHECK_TIMEOUT = env_float("BOWOUT_SECOND_CHECK_TIMEOUT", 10.0, minimum=0.1)
# Extra crisis phrases (whole words) on top of the built-in recogniser; every user message is searched.
BOWOUT_CRISIS_TERMS = env_list("BOWOUT_CRISIS_TERMS", list(DEFAULT_CRISIS_TERMS))
# "Name: how to reach them" entries separated by "|".
BOWOUT_CRISIS_RESOURCES = [
    tuple(part.strip() for part in entry.split(":", 1))
    for entry in env_str(
        "BOWOUT_CRISIS_RESOURCES",
        "988 Suicide & Crisis Lifeline (US): call or text 988"
        "|Samaritans (UK & Ireland): call 116 123"
        "|Emergency services: call your local emergency number (112 in the EU, 911 in the US, 999 in the UK)"
        "|Find a helpline in your country: https://findahelpline.com",
    ).split("|")
    if ":" in entry
]
# The offline model's test switch: it also tries to end chats in crisis, so the server's refusal shows.
BOWOUT_SIMULATOR_CRISIS_TRIES_END = env_bool("BOWOUT_SIMULATOR_CRISIS_TRIES_END", False)

# --- Welfare audit (welfare_admin) ---------------------------------------------------------------
# Claude's ends (either reason) per 1,000 conversations started in the last 30 days above which the welfare
# dashboard raises an alert: ends must stay rare. User ends do not count; they are the user's own choice.
BOWOUT_END_RATE_ALERT_PER_1000 = env_float("BOWOUT_END_RATE_ALERT_PER_1000", 5.0)

# --- Operations: restarts and retention ------------------------------------------------------------
# A worker streaming replies stamps them this often; three missed beats mean its replies are orphaned.
BOWOUT_HEARTBEAT_SECONDS = env_float("BOWOUT_HEARTBEAT_SECONDS", 5.0, minimum=0.1)
# On SIGTERM a worker lets its replies finish for this long, then interrupts the rest (offering Retry).
BOWOUT_DRAIN_SECONDS = env_float("BOWOUT_DRAIN_SECONDS", 20.0)
# After an account is deleted, what staff need to audit its ends is kept this long without name or email,
# then `manage.py purge_expired_audit` removes it.
BOWOUT_AUDIT_RETENTION_DAYS = env_int("BOWOUT_AUDIT_RETENTION_DAYS", 365, minimum=1)
