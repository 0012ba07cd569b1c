"""Settings for every environment, read from environment variables (see .env.example).

Embedded defaults for a newcomer: SQLite under var/ and Celery tasks run eagerly in-process.
Production shape: DATABASE_URL=postgres://..., CELERY_BROKER_URL=redis://... and real workers.
"""

import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from config.env import env_bool, env_int, env_json, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

# A .env file at the repository root is read if present; real environment variables win.
load_dotenv(BASE_DIR / ".env", override=False)

DEBUG = env_bool("DJANGO_DEBUG", default=False)


def _development_secret_key() -> str:
    """A random key generated once per checkout and kept in var/, for debug mode only."""
    VAR_DIR.mkdir(exist_ok=True)
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if SECRET_KEY is None:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Set it to a long random string in production "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DJANGO_DEBUG=1 for local development, which generates a key under var/."
        )
    SECRET_KEY = _development_secret_key()

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_results",
    "surveys",
    "psychometrics",
    "benchmark",
    "results",
    "prolific",
]

MIDDLEWARE = [
    "config.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# Database: unset DATABASE_URL means an embedded SQLite file under var/.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL is None:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Writers wait for each other instead of failing with "database is locked";
            # IMMEDIATE transactions take the write lock at BEGIN, which serialises
            # read-then-write sections such as item-group assignment.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
else:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://", "sqlite:")):
        raise ImproperlyConfigured(f"DATABASE_URL must start with postgres://, postgresql:// or sqlite:, got {DATABASE_URL.split(':')[0]}:...")
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        # A SQLite file named by URL needs the same serialisation as the embedded default above.
        DATABASES["default"]["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}

DATABASE_IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Serve files from the app/static directories without collectstatic in debug mode.
WHITENOISE_USE_FINDERS = DEBUG

# Request size limits: larger bodies are refused (413) before they reach a view.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_MAX_BODY_BYTES", 10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Security: strict by default, relaxed only where plain-HTTP local development needs it.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the dashboard's fetch() calls read the token from the cookie
USE_TLS = env_bool("DJANGO_USE_TLS", default=not DEBUG)
SESSION_COOKIE_SECURE = USE_TLS
CSRF_COOKIE_SECURE = USE_TLS
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", default=USE_TLS)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000 if USE_TLS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = USE_TLS
SECURE_HSTS_PRELOAD = USE_TLS
if env_bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Celery: unset CELERY_BROKER_URL means tasks run eagerly in-process.
# Results and progress go to the database (django-celery-results) in both modes,
# so AsyncResult(task_id).state / .info read the same way with or without workers.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_STORE_EAGER_RESULT = True
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
# A task whose worker dies is re-delivered to another worker (tasks are idempotent).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BEAT_SCHEDULE = {
    "expire-survey-reservations": {"task": "surveys.tasks.expire_reservations", "schedule": 60.0},
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.ClientAddressAnonThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": env_str("API_ANON_RATE", "600/minute")},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Value Portrait platform API",
    "DESCRIPTION": "Benchmark items, item banks, models, runs, scores, leaderboard and human references.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # System fonts: the page loads nothing from other sites (templates/drf_spectacular/redoc.html).
    "REDOC_UI_SETTINGS": {"theme": {"typography": {
        "fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
        "headings": {"fontFamily": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"},
    }}},
}

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS_CACHE_URL = env_str("REDIS_CACHE_URL")
if REDIS_CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}}

# Prolific: participants are sent back here when they finish.
PROLIFIC_COMPLETION_URL = env_str("PROLIFIC_COMPLETION_URL", "https://app.prolific.com/submissions/complete")

# Survey entry link (docs/surveys.md, "Entry, resumption and caps"). A group place is taken at consent;
# these bound the visits that have not consented yet, and the places one client address can hold.
UNCONSENTED_EXPIRY_MINUTES = env_int("UNCONSENTED_EXPIRY_MINUTES", 10)  # an unconsented visit lapses after this
UNCONSENTED_PER_ADDRESS = env_int("UNCONSENTED_PER_ADDRESS", 10)  # concurrent unconsented visits per address and study
UNCONSENTED_STUDY_PERCENT = env_int("UNCONSENTED_STUDY_PERCENT", 100)  # per study, % of its free places (at least the above)
PLACES_PER_ADDRESS = env_int("PLACES_PER_ADDRESS", 20)  # consented, unfinished participants per address and study
for _name in ("UNCONSENTED_EXPIRY_MINUTES", "UNCONSENTED_PER_ADDRESS", "UNCONSENTED_STUDY_PERCENT", "PLACES_PER_ADDRESS"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1, got {globals()[_name]}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "config.logging.RedactParticipantData"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Drop Django's default handlers: every line goes to the root's redacting handler, once.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # runserver's request lines go through the redacting handler too (entry links carry PROLIFIC_PID).
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# --- prolific ---
# Outbound calls to the Prolific REST API (issue 8). Tokens are per study (see docs/prolific.md).
PROLIFIC_API_BASE_URL = env_str("PROLIFIC_API_BASE_URL", "https://api.prolific.com")
PROLIFIC_TOKEN_KEY = env_str("PROLIFIC_TOKEN_KEY")  # Fernet key; unset = derived from SECRET_KEY
PROLIFIC_WEBHOOK_SECRET = env_str("PROLIFIC_WEBHOOK_SECRET")  # workspace secret; per-study secrets also accepted
# Environment variables a study may name as its Prolific token source, and which studies may use each:
# {"PROLIFIC_TOKEN_WAVE1": ["wave1"], "PROLIFIC_TOKEN_LAB": "*"}. Unset = no study reads a token from the environment.
PROLIFIC_TOKEN_ENV_VARS = env_json("PROLIFIC_TOKEN_ENV_VARS", {})
PROLIFIC_WEBHOOK_MAX_AGE_SECONDS = env_int("PROLIFIC_WEBHOOK_MAX_AGE_SECONDS", 300)
PROLIFIC_HTTP_TIMEOUT_SECONDS = env_int("PROLIFIC_HTTP_TIMEOUT_SECONDS", 20)
PROLIFIC_MAX_ATTEMPTS = env_int("PROLIFIC_MAX_ATTEMPTS", 5)
PROLIFIC_RETRY_BASE_SECONDS = float(env_str("PROLIFIC_RETRY_BASE_SECONDS", "1.0"))
PROLIFIC_RETRY_MAX_SECONDS = float(env_str("PROLIFIC_RETRY_MAX_SECONDS", "60"))
# How long a sent decision may show no effect on Prolific (a bulk approval accepted but the submission still
# AWAITING REVIEW, a return request whose answer never came and no return recorded) before a reconcile
# marks it failed, so that the next review sends it again.
PROLIFIC_PENDING_GRACE_SECONDS = env_int("PROLIFIC_PENDING_GRACE_SECONDS", 900)

# --- benchmark ---
# Items per Celery chunk task: each worker takes chunks of a run, so a run spreads over all workers.
BENCHMARK_CHUNK_ITEMS = env_int("BENCHMARK_CHUNK_ITEMS", 100)
# A process executing a run writes Run.heartbeat_at at most every BENCHMARK_HEARTBEAT_SECONDS; a "running" run
# without one for BENCHMARK_RUN_STALE_SECONDS is shown as interrupted (its worker died) and can be resumed.
# Keep the threshold above the longest time a run's chunks may wait in a busy queue (docs/benchmark.md).
BENCHMARK_HEARTBEAT_SECONDS = env_int("BENCHMARK_HEARTBEAT_SECONDS", 5)
BENCHMARK_RUN_STALE_SECONDS = env_int("BENCHMARK_RUN_STALE_SECONDS", 300)
# Provider credentials (docs/benchmark.md "Credentials"): name -> provider, the environment variable holding
# the key, and the hosts the key may be sent to. A run names a credential; nobody sends a variable name.
# BENCHMARK_CREDENTIALS (JSON) replaces these defaults; researchers use a credential only when granted
# (admin: Benchmark > Credential grants, per study or per group); superusers and the CLI may use any.
BENCHMARK_CREDENTIALS = env_json("BENCHMARK_CREDENTIALS", {
    "openai": {"provider": "openai", "env": "OPENAI_API_KEY", "hosts": ["api.openai.com"]},
    "anthropic": {"provider": "anthropic", "env": "ANTHROPIC_API_KEY", "hosts": ["api.anthropic.com"]},
    "gemini": {"provider": "gemini", "env": "GEMINI_API_KEY", "hosts": ["generativelanguage.googleapis.com"]},
})
# Hosts ("host" or "host:port") a run may name as a custom base_url (local vLLM, Ollama). Only these may be
# private, loopback or link-local addresses; every other outbound benchmark request goes to public addresses.
BENCHMARK_ENDPOINT_HOSTS = env_list("BENCHMARK_ENDPOINT_HOSTS", default=[])
# httpx logs every request at INFO; a benchmark run sends thousands.
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}

# --- hardening ---
# Security headers, entry-link rate limit and login throttling (config/middleware.py, docs/hardening.md).
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "config.middleware.SecurityHeadersMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1, "config.middleware.EntryRateLimitMiddleware"
)
MIDDLEWARE.insert(MIDDLEWARE.index("config.middleware.EntryRateLimitMiddleware") + 1, "config.middleware.LoginThrottleMiddleware")
# Anonymous /results/ traffic: its own per-address limit, then pages from the cache by data version (results/cache.py).
MIDDLEWARE.insert(MIDDLEWARE.index("config.middleware.LoginThrottleMiddleware") + 1, "results.cache.ResultsCacheMiddleware")
# drf-spectacular's Swagger UI and ReDoc pages carry inline <script>: only they get script-src 'unsafe-inline'.
CSP_INLINE_SCRIPT_PATHS = ["/api/docs/", "/api/redoc/"]
# Behind N reverse proxies the client address is the Nth X-Forwarded-For entry from the right.
TRUSTED_PROXY_HOPS = env_int("DJANGO_TRUSTED_PROXY_HOPS", 1 if env_bool("DJANGO_BEHIND_PROXY", default=False) else 0)
# DRF reads the same number for any throttle that uses its own get_ident (ours use config.middleware.client_ip).
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_HOPS
ENTRY_RATE_LIMIT = env_str("ENTRY_RATE_LIMIT", "60/60")  # entry-link requests per client address / seconds
# Self-tests a visitor may store (anonymous writes) per client address / seconds; a class behind one NAT fits.
SELF_TEST_STORE_RATE_LIMIT = env_str("SELF_TEST_STORE_RATE_LIMIT", "30/3600")
RESULTS_RATE_LIMIT = env_str("RESULTS_RATE_LIMIT", "300/60")  # anonymous /results/ requests per client address / seconds
RESULTS_CACHE_SECONDS = env_int("RESULTS_CACHE_SECONDS", 300)  # longest life of a cached results page (0: no cache)
LOGIN_FAILURES_PER_USER = env_int("LOGIN_FAILURES_PER_USER", 5)  # per username and address
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 30)  # per address, any usernames
LOGIN_THROTTLE_SECONDS = env_int("LOGIN_THROTTLE_SECONDS", 900)
