"""Django settings for flexbill.

Configuration comes from the environment: DATABASE_URL, FLEXBILL_STRIPE_API_BASE, FLEXBILL_SECRET_KEY,
FLEXBILL_ENCRYPTION_KEYS. Without them flexbill runs from ./var/ with SQLite, which is what the demo uses.
"""

import os
import re
import secrets
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from flexbill.encryption.keys import GENERATE_HINT, generate_key, parse_keys

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("FLEXBILL_VAR_DIR", Path.cwd() / "var"))


def _env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_number(name: str, default, *, whole: bool = True, low=0, high=None):
    """A number from the environment, in ASCII digits only, or one sentence naming the variable (the command line
    prints it and exits 2): a typo in a setting must not start flexbill with something else, nor end in a traceback."""
    raw = os.environ.get(name, "").strip() or str(default)
    shape = r"[0-9]+" if whole else r"[0-9]+(\.[0-9]+)?"
    value = (int if whole else float)(raw) if re.fullmatch(shape, raw) else None
    if value is None or value < low or (high is not None and value > high):
        kind = "a whole number" if whole else "a number"
        span = f" from {low} to {high}" if high is not None else f" of at least {low}"
        raise ImproperlyConfigured(f"{name} must be {kind}{span}, not {raw!r}.")
    return value


def _kept_in_var(name: str, generate) -> str:
    """Development only: a value generated once and kept beside the SQLite database."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / name
    if not path.exists():
        # Written whole under another name, then linked into place: processes starting together (the demo's
        # server and worker, a test run and the server it starts) all end up reading the one value that won.
        draft = VAR_DIR / f".{name}.{os.getpid()}"
        with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as file:
            file.write(generate())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def _secret_key() -> str:
    return os.environ.get("FLEXBILL_SECRET_KEY") or _kept_in_var("secret_key", lambda: secrets.token_urlsafe(50))


def _encryption_keys() -> list[str]:
    raw = os.environ.get("FLEXBILL_ENCRYPTION_KEYS", "")
    if raw.strip():
        return parse_keys(raw)
    if _env_flag("FLEXBILL_SECURE", False):
        # In production a key generated into ./var would be lost with the machine, and every secret with it.
        raise ImproperlyConfigured(
            "FLEXBILL_ENCRYPTION_KEYS must be set when FLEXBILL_SECURE is on: it encrypts the Stripe keys and "
            f"webhook signing secrets stored in the database. Generate a key with: {GENERATE_HINT}"
        )
    return parse_keys(_kept_in_var("encryption_key", generate_key))


SECRET_KEY = _secret_key()
# Fernet keys for secrets stored in the database: the first encrypts, all decrypt (see flexbill.encryption.keys).
FLEXBILL_ENCRYPTION_KEYS = _encryption_keys()
DEBUG = _env_flag("FLEXBILL_DEBUG", False)
ALLOWED_HOSTS = [h for h in os.environ.get("FLEXBILL_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("FLEXBILL_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "flexbill.encryption",
    "flexbill.accounts",
    "flexbill.audit",
    "flexbill.billing",
    "flexbill.refund_batches",
    "flexbill.stripe_gateway",
    "flexbill.notifications",
    "flexbill.outgoing",
    "flexbill.outbox",
    "flexbill.web",
    "flexbill.ops",
    # Installed add-ons: the demo extra (flexbill-demo) brings its commands this way; production has none.
    *sorted(entry.value for entry in entry_points(group="flexbill.apps")),
]

MIDDLEWARE = [
    # Outermost, so that it sees every error answer under /api/, whichever middleware or view produced it.
    "flexbill.api.middleware.ApiErrorsAsJsonMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "flexbill.security.SecurityHeadersMiddleware",
    # flexbill.web_only.*: Django's and WhiteNoise's own, run for the web UI and passed over under /api/.
    "flexbill.web_only.WhiteNoiseMiddleware",
    "flexbill.web_only.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "flexbill.web_only.AuthenticationMiddleware",
    "flexbill.web_only.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "flexbill.urls"
WSGI_APPLICATION = "flexbill.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "flexbill.web.context_processors.choices",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'flexbill.sqlite3'}",
        # Keep connections between requests (a new PostgreSQL connection per request costs more than the query).
        conn_max_age=_env_number("FLEXBILL_DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so concurrent writers queue up instead of
    # failing half-way with "database is locked"; this is what serializes refund reservations on SQLite.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a file, not an in-memory database, so that threads and processes share it as in production.
    # One file per test run, so that several runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {
        "NAME": os.environ.get("FLEXBILL_TEST_SQLITE") or str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Every sign-in (the web login and /platform/) resolves the typed e-mail and is throttled here.
AUTHENTICATION_BACKENDS = ["flexbill.accounts.backends.ThrottledEmailBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:invoice_list"
LOGOUT_REDIRECT_URL = "web:login"

# Security headers. HSTS and secure cookies only where flexbill is served over HTTPS (FLEXBILL_SECURE=1).
SECURE = _env_flag("FLEXBILL_SECURE", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = 31536000 if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None

DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

CACHES = {
    # Shared by every process.
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "flexbill_cache"},
    # Per process, for short-lived lookups that may be a few seconds stale.
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "flexbill-local"},
}

TASKS = {
    "default": {
        "BACKEND": os.environ.get("FLEXBILL_TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

EMAIL_BACKEND = os.environ.get("FLEXBILL_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail"  # for the file backend (the demo writes its emails there)
DEFAULT_FROM_EMAIL = os.environ.get("FLEXBILL_FROM_EMAIL", "billing@flexbill.localhost")
if "FLEXBILL_EMAIL_HOST" in os.environ:  # SMTP
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["FLEXBILL_EMAIL_HOST"]
    EMAIL_PORT = _env_number("FLEXBILL_EMAIL_PORT", 587, low=1, high=65535)
    EMAIL_HOST_USER = os.environ.get("FLEXBILL_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("FLEXBILL_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = _env_flag("FLEXBILL_EMAIL_TLS", True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "errors": {"class": "logging.StreamHandler", "formatter": "plain", "level": "ERROR"},
    },
    "loggers": {
        "flexbill": {"handlers": ["console"], "level": os.environ.get("FLEXBILL_LOG_LEVEL", "INFO")},
        # Django logs a crash outside the API's handlers here; its defaults print it only with DEBUG on.
        "django.request": {"handlers": ["errors"]},
    },
}

# Stripe: every organization has its own keys; the API base is shared (the local Stripe in dev and tests).
FLEXBILL_STRIPE_API_BASE = os.environ.get("FLEXBILL_STRIPE_API_BASE") or None


def _local_stripe_workarounds() -> bool:
    """Whether flexbill works around the local Stripe's differences from Stripe (the demo and the tests only).

    Off unless set: an API base alone (a proxy in front of Stripe) never turns them on. On without an API base, or
    with Stripe's own, they would change what flexbill sends to Stripe itself: refused."""
    if not _env_flag("FLEXBILL_LOCAL_STRIPE_WORKAROUNDS", False):
        return False
    host = (urlsplit(FLEXBILL_STRIPE_API_BASE or "").hostname or "").lower()
    if not host or host == "stripe.com" or host.endswith(".stripe.com"):
        talks_to = (
            f"Stripe itself ({FLEXBILL_STRIPE_API_BASE})" if host else "Stripe itself (no FLEXBILL_STRIPE_API_BASE)"
        )
        raise ImproperlyConfigured(
            f"FLEXBILL_LOCAL_STRIPE_WORKAROUNDS is on but flexbill talks to {talks_to}. The workarounds are for "
            "the local Stripe of the demo and the tests: unset FLEXBILL_LOCAL_STRIPE_WORKAROUNDS, or point "
            "FLEXBILL_STRIPE_API_BASE at the local Stripe."
        )
    return True


FLEXBILL_LOCAL_STRIPE_WORKAROUNDS = _local_stripe_workarounds()
FLEXBILL_STRIPE_TIMEOUT = _env_number("FLEXBILL_STRIPE_TIMEOUT", 10, whole=False)
FLEXBILL_STRIPE_MAX_RETRIES = _env_number("FLEXBILL_STRIPE_MAX_RETRIES", 0)
FLEXBILL_WEBHOOK_TOLERANCE = 300
# Deliveries that fail verification come from anyone: keep only a short summary of each, at most this many rows,
# for at most this many days, so anonymous traffic cannot grow the database without bound.
FLEXBILL_WEBHOOK_REJECTED_KEEP = _env_number("FLEXBILL_WEBHOOK_REJECTED_KEEP", 1000)
FLEXBILL_WEBHOOK_REJECTED_RETENTION_DAYS = _env_number("FLEXBILL_WEBHOOK_REJECTED_RETENTION_DAYS", 7)
# A refund left "requested" this long with no trace in Stripe never reached Stripe: reconcile cancels it.
FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS = _env_number("FLEXBILL_REQUESTED_REFUND_GRACE_SECONDS", 600)
# Each organization's reconcile is queued once per this many seconds, however many workers run (billing/tasks.py).
FLEXBILL_RECONCILE_INTERVAL = _env_number("FLEXBILL_RECONCILE_INTERVAL", 300, whole=False)
# The inbox of verified Stripe events: how many the worker applies per batch, how long a claim lasts before another
# worker may take the events over, how often it tries an event it cannot apply (then the event is failed, shown on
# the Sync health page), how often it waits for a charge it does not know, how often the worker looks for events
# due again, and how many Stripe reads of one batch run at once.
FLEXBILL_INBOX_BATCH_SIZE = _env_number("FLEXBILL_INBOX_BATCH_SIZE", 500, low=1)
FLEXBILL_INBOX_LEASE_SECONDS = _env_number("FLEXBILL_INBOX_LEASE_SECONDS", 120, low=1)
FLEXBILL_INBOX_MAX_ATTEMPTS = _env_number("FLEXBILL_INBOX_MAX_ATTEMPTS", 12, low=1)
FLEXBILL_INBOX_UNKNOWN_CHARGE_ATTEMPTS = _env_number("FLEXBILL_INBOX_UNKNOWN_CHARGE_ATTEMPTS", 3, low=1)
FLEXBILL_INBOX_SWEEP_INTERVAL = _env_number("FLEXBILL_INBOX_SWEEP_INTERVAL", 1, whole=False)
# How much `flexbill worker` yields the CPU to `flexbill serve` on the same machine (its nice value, 0-19): during a
# burst of Stripe deliveries the acknowledgements come first and the inbox is applied in the gaps (bench/README.md).
FLEXBILL_WORKER_NICE = _env_number("FLEXBILL_WORKER_NICE", 10, high=19)
FLEXBILL_INBOX_QUEUE_COALESCE_SECONDS = _env_number("FLEXBILL_INBOX_QUEUE_COALESCE_SECONDS", 0.25, whole=False)
# Bulk refunds: a worker running a batch holds it this long (renewed after each item); a batch whose worker died is
# resumed by another worker after that. Longer than one Stripe call may take, so a slow call is never sent twice.
FLEXBILL_REFUND_BATCH_LEASE_SECONDS = _env_number("FLEXBILL_REFUND_BATCH_LEASE_SECONDS", 120, low=1)
FLEXBILL_REFUND_BATCH_SWEEP_INTERVAL = _env_number("FLEXBILL_REFUND_BATCH_SWEEP_INTERVAL", 5, whole=False)
# A batch item whose runs keep ending in an unexpected error (a bug, a database error, a crash) is tried this many
# times; then it is recorded by the refund its key finds, or failed if there is none, and the batch goes on.
FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS = _env_number("FLEXBILL_REFUND_BATCH_ITEM_MAX_ATTEMPTS", 3, low=1)
# The webhook endpoint keeps each organization's signing secret in the process this long.
FLEXBILL_WEBHOOK_ORG_CACHE_SECONDS = _env_number("FLEXBILL_WEBHOOK_ORG_CACHE_SECONDS", 5, whole=False)
FLEXBILL_INBOX_STRIPE_READERS = _env_number("FLEXBILL_INBOX_STRIPE_READERS", 4, low=1)
# The outbox (outbox/dispatch.py): rows the worker takes per batch, how long it holds them, how often it looks.
FLEXBILL_OUTBOX_BATCH_SIZE = _env_number("FLEXBILL_OUTBOX_BATCH_SIZE", 50, low=1)
FLEXBILL_OUTBOX_LEASE_SECONDS = _env_number("FLEXBILL_OUTBOX_LEASE_SECONDS", 120, low=1)
FLEXBILL_OUTBOX_MAX_ATTEMPTS = _env_number("FLEXBILL_OUTBOX_MAX_ATTEMPTS", 12, low=1)
FLEXBILL_OUTBOX_SWEEP_INTERVAL = _env_number("FLEXBILL_OUTBOX_SWEEP_INTERVAL", 0.5, whole=False)
FLEXBILL_OUTBOX_RETENTION_DAYS = _env_number("FLEXBILL_OUTBOX_RETENTION_DAYS", 30)
# Finished background-task results (succeeded or failed) are deleted by the worker's housekeeping after this many
# days; ready and running tasks are never touched.
FLEXBILL_TASK_RESULT_RETENTION_DAYS = _env_number("FLEXBILL_TASK_RESULT_RETENTION_DAYS", 7)
# Outgoing webhooks go to https:// endpoints; plain http only where allowed (the demo's local receiver, tests).
FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP = _env_flag("FLEXBILL_OUTGOING_WEBHOOKS_ALLOW_HTTP", False)


# How long an invitation's one-time link works, in days.
FLEXBILL_INVITATION_DAYS = _env_number("FLEXBILL_INVITATION_DAYS", 7, low=1, high=90)


# How long a refund may wait for approval before the worker cancels it and releases its amount, in days.
FLEXBILL_REFUND_APPROVAL_DAYS = _env_number("FLEXBILL_REFUND_APPROVAL_DAYS", 7, low=1, high=365)


# How many reverse proxies we run in front of flexbill, each appending to X-Forwarded-For. 0: the client address is
# REMOTE_ADDR and X-Forwarded-For is ignored (anyone can send it); N: the N-th address from the right of it.
FLEXBILL_TRUSTED_PROXY_COUNT = _env_number("FLEXBILL_TRUSTED_PROXY_COUNT", 0)


def _public_url() -> str:
    value = os.environ.get("FLEXBILL_PUBLIC_URL", "").strip().rstrip("/")
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment):
        raise ValueError(f"FLEXBILL_PUBLIC_URL must be like https://billing.example.com, not {value!r}.")
    return value


# The address people reach flexbill at, e.g. https://billing.example.com: the Stripe page shows the webhook URL under
# it. Empty: built from each request's host (one of FLEXBILL_ALLOWED_HOSTS) and scheme.
FLEXBILL_PUBLIC_URL = _public_url()
