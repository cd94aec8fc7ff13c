"""WebMagic settings: every value comes from the environment.

`.env.example` lists each variable with its meaning and default. The helpers below fail
loudly on values they cannot parse, so a typo in production stops the process instead of
silently falling back to a default.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, default)
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} must be one of {sorted(choices)}")
    return value


def env_zone(name: str, default: str) -> str:
    """An IANA time zone name (America/Guatemala); a name zoneinfo does not know fails."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = (os.environ.get(name) or "").strip() or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not a time zone (e.g. UTC)") from None
    return value


# --- Core -----------------------------------------------------------------------------------

DEFAULT_SECRET_KEY = "dev-insecure-secret-key-change-me"  # noqa: S105 (refused below)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY)
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", PUBLIC_BASE_URL)

if not DEBUG and SECRET_KEY == DEFAULT_SECRET_KEY:
    raise ImproperlyConfigured(
        "Refusing to start with DEBUG off and the default SECRET_KEY: set SECRET_KEY."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_filters",
    "django_htmx",
    "template_partials",
    "django_q",
    "anymail",
    # django-ninja's own Swagger UI files: /api/v1/docs works offline (no CDN).
    "ninja",
    "crm",
    "sites",
    "campaigns",
    "billing",
    "webmagic",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "webmagic.urls"
WSGI_APPLICATION = "webmagic.wsgi.application"

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
                "campaigns.context_processors.unread_replies",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj-database-url raises several types for a bad URL
    raise ImproperlyConfigured(f"DATABASE_URL could not be parsed: {exc}") from None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # WAL and a busy timeout let the web process and the django-q2 worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Session settings for short OLTP queries (a DATABASE_URL `?options=…` wins): JIT
    # compiling a 0.1 s lead-table query cost 17 ms more than it saved, and 16 MB keeps the
    # bitmaps of a multi-filter lead query exact (at 4 MB they went lossy: 2.5× slower).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "options", "-c jit=off -c work_mem=16MB"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "crm:dashboard"
LOGOUT_REDIRECT_URL = "login"
# Django's own model backend; roles are group permissions (crm/permissions.py).
AUTHENTICATION_BACKENDS = ["django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# --- I18N / static --------------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_zone("TIME_ZONE", "UTC")
# The business's time zone: where "Today", "This week" (from Monday) and "This month" start
# on every page, CSV and API period (crm/periods.py). Default: TIME_ZONE.
CRM_TIME_ZONE = env_zone("CRM_TIME_ZONE", TIME_ZONE)
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# --- Task queue (django-q2) -----------------------------------------------------------------
# ORM broker by default; REDIS_URL switches to Redis. `retry` must exceed `timeout`, or a
# task still running is handed to a second worker (django-q2 is at-least-once).

REDIS_URL = env_str("REDIS_URL", "")
Q_CLUSTER = {
    "name": "webmagic",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 300),
    "retry": env_int("Q_RETRY", 600),
    "max_attempts": 1,
    "queue_limit": 50,
    "bulk": 10,
    "catch_up": False,
    "sync": env_bool("Q_SYNC", False),
}
if REDIS_URL:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    Q_CLUSTER["orm"] = "default"
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must be greater than Q_TIMEOUT")
# A message claimed for sending (or a queued one handed to a worker) longer ago than this
# has lost its worker: no task runs longer than Q_TIMEOUT. A claimed one becomes `unknown`
# (never re-sent automatically); a handed-out queued one is handed out again.
MESSAGE_SENDING_TIMEOUT = env_int("MESSAGE_SENDING_TIMEOUT", Q_CLUSTER["timeout"] + 60)
if Q_CLUSTER["timeout"] >= MESSAGE_SENDING_TIMEOUT:
    raise ImproperlyConfigured("MESSAGE_SENDING_TIMEOUT must be greater than Q_TIMEOUT")
# The cache holds per-client rate-limit counters (the purchase button) and the staff pages'
# read-mostly lists (crm.memo): with REDIS_URL every web process shares them; without it
# each process keeps its own (cached lists then expire within a minute).
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "webmagic",
        }
    }
# Django's database sessions; with a shared cache (REDIS_URL) read through it, so a staff
# request usually reads no session row. Not through the per-process memory cache: a session
# ended in one process (log out) would live on in another's copy.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if REDIS_URL
    else "django.contrib.sessions.backends.db"
)

# --- Email (django-anymail) -----------------------------------------------------------------

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "WebMagic <hello@webmagic.example>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
SENDER_POSTAL_ADDRESS = env_str(
    "SENDER_POSTAL_ADDRESS", "WebMagic, 100 Example Street, Suite 1, Austin, TX 78701, USA"
)
ANYMAIL = {
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", "") or None,
    "AMAZON_SES_CLIENT_PARAMS": {"region_name": env_str("AWS_REGION", "us-east-1")},
}

# --- SMS (Twilio) ---------------------------------------------------------------------------

SMS_BACKEND = env_str("SMS_BACKEND", "campaigns.sms.ConsoleBackend")
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER", "")
# Where the Twilio client sends its HTTP calls; empty means Twilio's own API (tests only).
TWILIO_API_BASE = env_str("TWILIO_API_BASE", "")

# --- Payments (Recurrente) ------------------------------------------------------------------

PAYMENTS_BACKEND = env_str("PAYMENTS_BACKEND", "billing.backends.SandboxBackend")
RECURRENTE_PUBLIC_KEY = env_str("RECURRENTE_PUBLIC_KEY", "")
RECURRENTE_SECRET_KEY = env_str("RECURRENTE_SECRET_KEY", "")
RECURRENTE_WEBHOOK_SECRET = env_str("RECURRENTE_WEBHOOK_SECRET", "")
RECURRENTE_API_BASE = env_str("RECURRENTE_API_BASE", "https://app.recurrente.com").rstrip("/")
SETUP_FEE_CENTS = env_int("SETUP_FEE_CENTS", 40000)
MONTHLY_PRICE_CENTS = env_int("MONTHLY_PRICE_CENTS", 9700)
PRICE_CURRENCY = env_choice("PRICE_CURRENCY", "USD", {"USD", "GTQ"})
CHECKOUT_ABANDON_MINUTES = env_int("CHECKOUT_ABANDON_MINUTES", 1440)
CHECKOUT_REMINDER_EMAIL = env_bool("CHECKOUT_REMINDER_EMAIL", False)
PURCHASE_RATE_LIMIT = env_int("PURCHASE_RATE_LIMIT", 10)
CANCELLED_SITE_STATUS = env_choice("CANCELLED_SITE_STATUS", "suspended", {"suspended", "cancelled"})

# --- Outreach and scoring -------------------------------------------------------------------

QUALIFIED_SCORE = env_int("QUALIFIED_SCORE", 50)
CONTACT_COOLDOWN_DAYS = env_int("CONTACT_COOLDOWN_DAYS", 30)
# A checkout is credited to the campaign of the lead's last message clicked (else opened or
# replied to, else sent) within this many days before it (billing/attribution.py).
ATTRIBUTION_DAYS = env_int("ATTRIBUTION_DAYS", 30)
BOUNCE_PAUSE_RATE = env_float("BOUNCE_PAUSE_RATE", 0.05)
COMPLAINT_PAUSE_RATE = env_float("COMPLAINT_PAUSE_RATE", 0.001)
SMS_QUIET_START = env_int("SMS_QUIET_START", 21)
SMS_QUIET_END = env_int("SMS_QUIET_END", 8)
# Who the first text to a lead says it is from ("WebMagic: … Reply STOP to opt out.").
SMS_SENDER_NAME = env_str("SMS_SENDER_NAME", "WebMagic")
# The deliverability guard judges a campaign's rates only after this many sent messages.
DELIVERABILITY_MIN_SAMPLE = env_int("DELIVERABILITY_MIN_SAMPLE", 100)
# Messages per django-q2 sending task.
CAMPAIGN_CHUNK_SIZE = env_int("CAMPAIGN_CHUNK_SIZE", 250)
# How long an inbox event whose Message is not known yet keeps being retried.
INBOX_UNMATCHED_RETRY_MINUTES = env_int("INBOX_UNMATCHED_RETRY_MINUTES", 30)

# --- Logging --------------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
