"""MLOps Portal settings: one module, read from the environment (see .env.example)."""

import os
import re
from pathlib import Path

import environ

from portal import config

BASE_DIR = Path(__file__).resolve().parent.parent

# A local .env fills in what the real environment leaves unset (`make run` writes one).
ENV_FILE = os.environ.get("PORTAL_ENV_FILE", str(BASE_DIR / ".env"))
if ENV_FILE and Path(ENV_FILE).is_file():
    environ.Env.read_env(ENV_FILE)

env = environ.Env()
_parse_errors = []
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name, default):
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE | _FALSE:
        return raw in _TRUE
    _parse_errors.append(f"{name} must be true or false (got {raw!r})")
    return default


def env_int(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        _parse_errors.append(f"{name} must be a whole number (got {raw!r})")
        return default


def env_list(name, default=()):
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_str(name, default=""):
    """An empty value counts as unset, so `NAME=` in a .env file keeps the default."""
    return os.environ.get(name, "").strip() or default


# ---------------------------------------------------------------- core
DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
DATABASE_URL = env_str("DATABASE_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CACHE_URL = env_str("CACHE_URL")

if DEBUG and not SECRET_KEY:
    # Dev only: a fixed key keeps sessions across restarts; production refuses it (end of file).
    SECRET_KEY = "django-insecure-embedded-demo-key-never-use-in-production"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# ---------------------------------------------------------------- applications
INSTALLED_APPS = [
    "django_prometheus",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "guardian",
    "django_htmx",
    "template_partials",
    "ninja",
    "portal",
    "accounts",
    "models_registry",
    "predictions",
    "monitoring",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "portal.middleware.RequestIdMiddleware",
    # Outside all the others, so an error any of them answers under /api/ is JSON too.
    "portal.api_middleware.JsonApiErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

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
                "portal.context_processors.navigation",
            ],
        },
    },
]

# ---------------------------------------------------------------- database and cache
if DATABASE_URL:
    try:
        DATABASES = {"default": env.db_url_config(DATABASE_URL)}
        DATABASES["default"]["ENGINE"]
    except Exception as exc:  # noqa: BLE001 - any parse failure is a config error
        _parse_errors.append(f"DATABASE_URL cannot be parsed ({type(exc).__name__}: {exc})")
        DATABASES = {"default": {"ENGINE": "django.db.backends.dummy"}}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "portal.sqlite3"}
    }
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5

# By default the broker's Redis with the other database of its pair (0 and 1, ...): the cache
# is cleared with FLUSHDB, which must never reach the log records buffered beside the broker.
_cache_url = CACHE_URL or config.redis_sibling_url(CELERY_BROKER_URL)
if _cache_url:
    CACHES = {
        "default": {
            "BACKEND": "portal.cache.RedisCache",
            "LOCATION": _cache_url,
            "KEY_PREFIX": "portal",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# ---------------------------------------------------------------- authentication
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # ModelBackend, with permission sets cached across requests (invalidated on change).
    "accounts.backends.CachedPermissionsBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "accounts.adapters.ClosedSignupAdapter"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_SESSION_REMEMBER = None
# allauth's defaults already limit login failures; written out so the choice is visible.
# "ip" is the client's address under TRUSTED_PROXY_COUNT, "key" the account at that address
# (accounts.adapters), so nobody locks out another person from elsewhere.
ACCOUNT_RATE_LIMITS = {
    "login_failed": env_str("LOGIN_RATE_LIMIT", "10/m/ip,5/5m/key"),
    "reset_password": "20/m/ip,5/m/key",
    "change_password": "5/m/user",
}
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = env_str("MFA_TOTP_ISSUER", "MLOps Portal")
MFA_FORMS = {"authenticate": "accounts.forms.AuditedAuthenticateForm"}
GUARDIAN_RAISE_403 = False
ANONYMOUS_USER_NAME = None  # guardian: no anonymous user row

# ---------------------------------------------------------------- email
if env_str("EMAIL_URL"):
    vars().update(env.email_url_config(env_str("EMAIL_URL")))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "portal@localhost")

# ---------------------------------------------------------------- static files
STATIC_URL = "static/"
# Unset in DEBUG: whitenoise then serves straight from the finders, no collectstatic needed.
STATIC_ROOT = env_str("STATIC_ROOT") or (None if DEBUG else VAR_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
# Read here, not from DEBUG at request time: tests run with DEBUG forced off.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# ---------------------------------------------------------------- security
SESSION_COOKIE_HTTPONLY = True
# Sessions read from the shared cache, written through to the database: one query fewer on
# every page, and nobody is signed out when Redis restarts.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Scripts and everything else from this origin only: the templates, Django admin and the API
# docs carry no inline script and load nothing from elsewhere. Inline styles stay allowed
# (htmx's indicator style, Swagger UI); data: images are allauth's TOTP QR code.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Probes and Prometheus talk plain HTTP inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^readiness$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
# How many reverse proxies (nginx) sit in front; their X-Forwarded-For entries are trusted.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# ---------------------------------------------------------------- celery
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", not CELERY_BROKER_URL)
CELERY_BROKER_URL = CELERY_BROKER_URL or "memory://"
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "portal")
# A task is acknowledged only after it ran, and requeued if its worker dies mid-task.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 600)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 540)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A dead broker must fail a publish within seconds, never hang a request.
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    # How long a message taken by a worker that died stays invisible before redelivery.
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600),
}
CELERY_RESULT_EXPIRES = 3600
PERFORMANCE_SWEEP_SECONDS = env_int("PERFORMANCE_SWEEP_SECONDS", 600)
ROLLUP_RETENTION_DAYS = env_int("ROLLUP_RETENTION_DAYS", 90)
# Training and batch jobs beat a heartbeat while they run. The broker alone would hand a dead
# worker's job back only after the visibility timeout (or never, after a Redis restart), so
# beat sweeps every JOB_SWEEP_SECONDS: a job silent for JOB_STALL_SECONDS, or queued that
# long with nobody taking it, is sent again, or failed (quota refunded) after its last attempt.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10)
JOB_STALL_SECONDS = env_int("JOB_STALL_SECONDS", 120)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 30)
if JOB_STALL_SECONDS < 2 * JOB_HEARTBEAT_SECONDS:
    _parse_errors.append(
        "JOB_STALL_SECONDS must be at least twice JOB_HEARTBEAT_SECONDS "
        "(else a live job that missed one beat is taken for dead)"
    )
CELERY_BEAT_SCHEDULE = {
    # Requests ask for drains themselves; this only sweeps up after a lost request.
    "drain-prediction-log": {
        "task": "predictions.tasks.drain_prediction_log_task",
        "schedule": 5.0,
    },
    "purge-quota-usage": {
        "task": "accounts.tasks.purge_quota_usage_task",
        "schedule": 6 * 3600,
    },
    # Quota usage is counted in Redis; this keeps PostgreSQL's copy at most this far behind.
    "sync-quota-counters": {
        "task": "accounts.tasks.sync_quota_counters_task",
        "schedule": 5.0,
        "options": {"expires": 5},
    },
    # Checks every running canary's gate: advance, promote at 100%, roll back, or wait.
    "canary-tick": {
        "task": "models_registry.tasks.canary_tick_task",
        "schedule": float(env_int("CANARY_TICK_SECONDS", 60)),
        "options": {"expires": env_int("CANARY_TICK_SECONDS", 60)},
    },
    # Compares each production version's recent traffic with its training reference.
    "drift-check": {
        "task": "monitoring.tasks.drift_check_task",
        "schedule": float(env_int("DRIFT_CHECK_SECONDS", 3600)),
        "options": {"expires": env_int("DRIFT_CHECK_SECONDS", 3600)},
    },
    # Feedback asks for its own refresh; this catches any that was lost on the way.
    "performance-sweep": {
        "task": "monitoring.tasks.performance_sweep_task",
        "schedule": float(PERFORMANCE_SWEEP_SECONDS),
    },
    # Traffic rollups (per minute and per hour) past ROLLUP_RETENTION_DAYS are deleted.
    "purge-traffic-rollups": {
        "task": "monitoring.tasks.purge_rollups_task",
        "schedule": 6 * 3600,
    },
    # Each app sweeps its own jobs: resend the stalled or lost ones, fail the hopeless ones.
    # A sweep stuck behind a backlog expires, so one that runs has seen the (FIFO) queue
    # drained up to it: a job queued before it and still queued lost its message.
    "sweep-training-jobs": {
        "task": "models_registry.tasks.sweep_training_jobs_task",
        "schedule": float(JOB_SWEEP_SECONDS),
        "options": {"expires": JOB_SWEEP_SECONDS},
    },
    "sweep-batch-jobs": {
        "task": "predictions.tasks.sweep_batch_jobs_task",
        "schedule": float(JOB_SWEEP_SECONDS),
        "options": {"expires": JOB_SWEEP_SECONDS},
    },
}

# ---------------------------------------------------------------- prediction log
# Log records wait in a Redis list (the broker's Redis database unless set) for batched
# inserts. Nothing is lost only if that Redis writes every change to its append-only file
# before answering (deploy/redis/redis.conf; /readiness warns otherwise), and production
# refuses a cache in the same database.
PREDICTION_LOG_BUFFER_URL = env_str("PREDICTION_LOG_BUFFER_URL") or (
    CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
PREDICTION_LOG_BATCH_SIZE = env_int("PREDICTION_LOG_BATCH_SIZE", 500)
# A drain that has not finished its batch this long after claiming it is presumed dead.
PREDICTION_LOG_LEASE_SECONDS = env_int("PREDICTION_LOG_LEASE_SECONDS", 60)
# Requests ask for a drain at most this often: records arrive in batches, not one task each.
PREDICTION_LOG_FLUSH_MS = env_int("PREDICTION_LOG_FLUSH_MS", 500)

# ---------------------------------------------------------------- api tokens and quotas
TOKEN_DEFAULT_EXPIRY_DAYS = env_int("TOKEN_DEFAULT_EXPIRY_DAYS", 90)
TOKEN_MAX_EXPIRY_DAYS = env_int("TOKEN_MAX_EXPIRY_DAYS", 365)
# last_used_at is written at most this often per token, to keep writes off the hot path.
TOKEN_LAST_USED_RESOLUTION_SECONDS = 60
QUOTA_DEFAULTS = {
    "admin": {
        "prediction_rows_per_day": env_int("QUOTA_ADMIN_PREDICTION_ROWS_PER_DAY", 1_000_000),
        "llm_tokens_per_day": env_int("QUOTA_ADMIN_LLM_TOKENS_PER_DAY", 2_000_000),
    },
    "user": {
        "prediction_rows_per_day": env_int("QUOTA_USER_PREDICTION_ROWS_PER_DAY", 100_000),
        "llm_tokens_per_day": env_int("QUOTA_USER_LLM_TOKENS_PER_DAY", 200_000),
    },
    "viewer": {"prediction_rows_per_day": 0, "llm_tokens_per_day": 0},
}
QUOTA_USAGE_RETENTION_DAYS = env_int("QUOTA_USAGE_RETENTION_DAYS", 90)

# ---------------------------------------------------------------- serving
PREDICT_MAX_ROWS = env_int("PREDICT_MAX_ROWS", 1000)
# Live accuracy (portal_live_accuracy_ratio) counts feedback given in this window, at most
# this many feedback rows per scrape.
LIVE_ACCURACY_WINDOW_SECONDS = env_int("LIVE_ACCURACY_WINDOW_SECONDS", 24 * 3600)
LIVE_ACCURACY_MAX_FEEDBACK = env_int("LIVE_ACCURACY_MAX_FEEDBACK", 50_000)

# ---------------------------------------------------------------- batch prediction jobs
# An upload is refused beyond either limit; keep nginx's client_max_body_size above the bytes.
# Django streams uploads over FILE_UPLOAD_MAX_MEMORY_SIZE to a temporary file, not to memory.
BATCH_MAX_ROWS = env_int("BATCH_MAX_ROWS", 1_000_000)
BATCH_MAX_UPLOAD_MB = env_int("BATCH_MAX_UPLOAD_MB", 50)
# Most columns a batch CSV header may have, whatever the model: a header is refused from its
# first bytes once it is wider than the model's features plus a few, or than this.
BATCH_MAX_COLUMNS = env_int("BATCH_MAX_COLUMNS", 1000)

# ---------------------------------------------------------------- experiments
# Admins may force an arm with the X-Experiment-Group header; true lets every predict user.
EXPERIMENT_HEADER_OVERRIDE_FOR_ALL = env_bool("EXPERIMENT_HEADER_OVERRIDE_FOR_ALL", False)

# ---------------------------------------------------------------- drift
# How much recent traffic each check compares with the reference (e.g. 24h, 30m, 7d).
DRIFT_WINDOW = env_str("DRIFT_WINDOW", "24h")
if not re.fullmatch(r"\s*0*[1-9]\d*\s*[smhdw]\s*", DRIFT_WINDOW.lower()):
    _parse_errors.append(
        f"DRIFT_WINDOW must be a number and a unit s/m/h/d/w (got {DRIFT_WINDOW!r})"
    )
# Below this many rows in the window (or values of a feature) no verdict is given at all.
DRIFT_MIN_ROWS = env_int("DRIFT_MIN_ROWS", 30)

# ---------------------------------------------------------------- metrics
PROMETHEUS_EXPORT_MIGRATIONS = False
# prometheus_client reads the variable itself; it only needs the directory to exist, and a
# fresh machine (or a tmpfs after a reboot) has none yet.
_metrics_dir = env_str("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    try:
        Path(_metrics_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _parse_errors.append(f"PROMETHEUS_MULTIPROC_DIR cannot be created ({exc.strerror})")
# When set, /metrics (and each Celery worker's metrics port) answers only
# `Authorization: Bearer <this>`: the samples name models, restricted ones included.
METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN")
if METRICS_BEARER_TOKEN and len(METRICS_BEARER_TOKEN) < 24:
    _parse_errors.append(
        "METRICS_BEARER_TOKEN must be at least 24 characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
    )

# ---------------------------------------------------------------- logging
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "portal.logging.RequestIdFilter"},
        "redact": {"()": "portal.logging.RedactSecretsFilter"},
    },
    "formatters": {"json": {"()": "portal.logging.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id", "redact"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request middleware writes one line per request; runserver's own line is noise.
        "django.server": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "celery": {"level": "INFO"},
    },
}

# ---------------------------------------------------------------- refuse bad configuration
# Last, so every variable above has been read and every problem is reported at once.
_problems = list(_parse_errors)
if not DEBUG:
    _problems = config.production_problems(
        {
            "parse_errors": _parse_errors,
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": ALLOWED_HOSTS,
            "DATABASE_URL": DATABASE_URL,
            "CELERY_BROKER_URL": env_str("CELERY_BROKER_URL"),
            "CACHE_URL": CACHE_URL,
            "cache_url": _cache_url,
            "PREDICTION_LOG_BUFFER_URL": PREDICTION_LOG_BUFFER_URL,
            "CSRF_TRUSTED_ORIGINS": CSRF_TRUSTED_ORIGINS,
        }
    )
    if _problems:
        _problems.append("(for the local demo set DEBUG=true, or run `make run`)")
if _problems:
    config.exit_with_problems(_problems)
