"""One settings module, read from the environment (django-environ).

CROWDMARKET_ENV=production turns on the deploy checks: secrets and the database then have no
default, so a missing variable fails loudly instead of running insecurely.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

ENVIRONMENT = env("CROWDMARKET_ENV", default="development")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = env.bool("DEBUG", default=False)
_DEV_SECRET_KEY = "dev-insecure-key-change-me-" + "x" * 32


def secret_key_problem(key: str) -> str | None:
    """Why `key` must not sign production sessions and tokens, or None. The development
    default is public (it is in this file); Django's own rule (50+ characters, 5+ distinct)
    catches the rest of the guessable ones."""
    if key == _DEV_SECRET_KEY or key.startswith(("dev-insecure", "django-insecure")):
        return "it is the public development key"
    if len(key) < 50 or len(set(key)) < 5:
        return "it is shorter than 50 characters or has fewer than 5 distinct ones"
    return None


if PRODUCTION:
    SECRET_KEY = env("SECRET_KEY")
    if (problem := secret_key_problem(SECRET_KEY)) is not None:
        raise ImproperlyConfigured(f"SECRET_KEY refused in production: {problem}.")
    DATABASES = {"default": env.db("DATABASE_URL")}
else:
    SECRET_KEY = env("SECRET_KEY", default=_DEV_SECRET_KEY)
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["*"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

_db = DATABASES["default"]
# Connections. Django holds at most one connection per thread, so a web process holds
# WEB_THREADS of them (gunicorn --threads; 1 with sync workers): size PostgreSQL's
# max_connections (or PgBouncer's pool) as processes x DATABASE_POOL_SIZE_PER_PROCESS plus the
# Celery workers' concurrency, with headroom. Persistent connections (CONN_MAX_AGE) because a
# new connection per request costs ~5x on claims and the claim path's prepared statements live
# on the connection. gunicorn's threads (sync and gthread workers alike) live as long as their
# process, so each keeps its one connection; only runserver (DEBUG) starts a thread per
# request, where a kept connection would stay behind idle, so there the default is 0.
# Health checks drop a connection the server closed instead of failing the next request on it.
WEB_THREADS = env.int("WEB_THREADS", default=1)
DATABASE_POOL_SIZE_PER_PROCESS = WEB_THREADS
_db["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0 if DEBUG else 60)
_db["CONN_HEALTH_CHECKS"] = True
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # BEGIN IMMEDIATE serialises writers, which is SQLite's correct claim path (no SKIP LOCKED).
    _db.setdefault("OPTIONS", {}).update({"transaction_mode": "IMMEDIATE", "timeout": 30})
    _db["CONN_MAX_AGE"] = 0

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "accounts",
    "payments",
    "tasks",
    "marketplace",
    "marketplace.web",
    "marketplace.mturk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "marketplace.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "marketplace" / "templates"],
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

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# allauth: email login, no usernames; verification is mandatory in production.
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env(
    "ACCOUNT_EMAIL_VERIFICATION", default="mandatory" if PRODUCTION else "optional"
)
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_ALLOW_REGISTRATION = env.bool("ACCOUNT_ALLOW_REGISTRATION", default=True)
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
# allauth's own limits on the web forms (login failures are per address and per account).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
}
# The API token login: this many failures for one account locks its token sign-in for this long
# (accounts.login_guard) and mails its owner once.
LOGIN_LOCK_AFTER_FAILURES = env.int("LOGIN_LOCK_AFTER_FAILURES", default=10)
LOGIN_LOCK_SECONDS = env.int("LOGIN_LOCK_SECONDS", default=15 * 60)
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/"

EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="crowdmarket <noreply@localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploaded item media (images, audio). Never served from MEDIA_ROOT or a public bucket: every
# file goes out through the access-checked view behind a signed URL (tasks.media).
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "media")))


def media_storage(values: environ.Env) -> dict:
    """The `default` storage: local files under MEDIA_ROOT, or an S3-compatible bucket
    (django-storages) when MEDIA_STORAGE=s3. boto3 is imported only by that backend, so it is
    needed only where S3 is configured. The bucket must be private: nothing is served from it
    directly, so querystring auth and public ACLs are off."""
    if values("MEDIA_STORAGE", default="local") != "s3":
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options = {
        "bucket_name": values("MEDIA_S3_BUCKET"),
        "endpoint_url": values("MEDIA_S3_ENDPOINT_URL", default=None),
        "region_name": values("MEDIA_S3_REGION", default=None),
        "access_key": values("MEDIA_S3_ACCESS_KEY_ID", default=None),
        "secret_key": values("MEDIA_S3_SECRET_ACCESS_KEY", default=None),
        "location": values("MEDIA_S3_PREFIX", default=""),
        "default_acl": None,
        "querystring_auth": False,
        "file_overwrite": False,
    }
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


STORAGES = {
    "default": media_storage(env),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Uploads: item files are streamed to disk, never held whole in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=64 * 1024 * 1024)
ITEM_UPLOAD_MAX_BYTES = env.int("ITEM_UPLOAD_MAX_BYTES", default=512 * 1024 * 1024)
ITEM_UPLOAD_BATCH_SIZE = env.int("ITEM_UPLOAD_BATCH_SIZE", default=20_000)
# One item's payload, serialised as JSON (UTF-8 bytes, uploaded media aside): a payload travels
# with every task page and export row, so one huge row cannot slow every worker who gets it.
ITEM_PAYLOAD_MAX_BYTES = env.int("ITEM_PAYLOAD_MAX_BYTES", default=64 * 1024)
# Media uploaded with items (a zip of files plus a CSV/JSONL naming them): limits per file and
# per archive, checked on the zip's headers and again while reading (headers can lie).
MEDIA_MAX_FILE_BYTES = env.int("MEDIA_MAX_FILE_BYTES", default=20 * 1024 * 1024)
MEDIA_MAX_ZIP_BYTES = env.int("MEDIA_MAX_ZIP_BYTES", default=1024 * 1024 * 1024)
MEDIA_MAX_UNPACKED_BYTES = env.int("MEDIA_MAX_UNPACKED_BYTES", default=2 * 1024 * 1024 * 1024)
MEDIA_MAX_ZIP_MEMBERS = env.int("MEDIA_MAX_ZIP_MEMBERS", default=50_000)
MEDIA_MAX_COMPRESSION_RATIO = env.int("MEDIA_MAX_COMPRESSION_RATIO", default=100)
MEDIA_MAX_PIXELS = env.int("MEDIA_MAX_PIXELS", default=50_000_000)
MEDIA_IMAGE_TYPES = env.list("MEDIA_IMAGE_TYPES", default=["png", "jpeg", "webp", "gif"])
MEDIA_AUDIO_TYPES = env.list("MEDIA_AUDIO_TYPES", default=["mp3", "wav", "ogg"])
# Signed media URLs stop working after this long (a worker's page, an export's links).
MEDIA_URL_MAX_AGE_SECONDS = env.int("MEDIA_URL_MAX_AGE_SECONDS", default=24 * 3600)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # `?format=` names an export format on results and statements, not a DRF renderer.
    "URL_FORMAT_OVERRIDE": None,
    # Trusted reverse proxies in front of the app: 0 means the client address is REMOTE_ADDR and
    # X-Forwarded-For is ignored (a client can write anything there). Behind one load balancer
    # that appends the real address, set NUM_PROXIES=1.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "crowdmarket API",
    "DESCRIPTION": "Requesters publish bundles of micro-tasks; workers claim and answer them.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "marketplace.api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "BundleStatusEnum": "tasks.models.BundleStatus",
        "AssignmentStatusEnum": "tasks.models.AssignmentStatus",
        "ItemStateEnum": "tasks.models.ItemState",
        "WorkerStatusEnum": "accounts.models.WorkerStatus",
    },
}

# Celery: no broker configured -> run tasks eagerly in-process (the embedded default).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
if PRODUCTION and not CELERY_BROKER_URL:
    # In-process tasks would run payouts and approvals inside web requests, once, with no retry:
    # production needs a broker (docs/operations.md).
    raise ImproperlyConfigured("CELERY_BROKER_URL is required in production (Redis or RabbitMQ).")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# With acks_late, a task whose worker dies (SIGKILL, a lost node) stays unacknowledged on
# Redis and is delivered again after this many seconds. Longer than any task runs, and longer
# than the longest countdown (payout retries) or Redis redelivers those early.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=3600)
}
CELERY_TIMEZONE = TIME_ZONE
# The settings seed the schedules; the admin edits them (marketplace/beat.py).
CELERY_BEAT_SCHEDULER = "marketplace.beat:AdminEditableScheduler"
CELERY_BEAT_SCHEDULE = {
    "expire-claims": {"task": "tasks.tasks.expire_claims_task", "schedule": 60.0},
    "auto-approve": {"task": "tasks.tasks.auto_approve_task", "schedule": 300.0},
    "expire-bundles": {"task": "tasks.tasks.expire_bundles_task", "schedule": 300.0},
    "settle-finished-bundles": {
        "task": "tasks.tasks.settle_finished_bundles_task",
        "schedule": 900.0,
    },
    "retry-payouts": {"task": "payments.tasks.retry_payouts_task", "schedule": 60.0},
    "replay-stripe-events": {"task": "payments.tasks.replay_stripe_events_task", "schedule": 300.0},
    "sync-topup-charges": {"task": "payments.tasks.sync_topup_charges_task", "schedule": 600.0},
    "pause-bundles-of-indebted-requesters": {
        "task": "tasks.tasks.pause_bundles_of_indebted_requesters_task",
        "schedule": 300.0,
    },
    "weekly-payouts": {
        "task": "payments.tasks.weekly_payouts_task",
        "schedule": crontab(day_of_week=1, hour=6, minute=0),
    },
    "reconcile-stripe": {
        "task": "payments.tasks.reconcile_stripe_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "reaggregate-live-bundles": {
        "task": "tasks.tasks.reaggregate_live_bundles_task",
        "schedule": 600.0,
    },
    "close-expired-mturk-hits": {
        "task": "marketplace.mturk.tasks.close_expired_hits_task",
        "schedule": 60.0,
    },
    "deliver-mturk-notifications": {
        "task": "marketplace.mturk.tasks.deliver_notifications_task",
        "schedule": 60.0,
    },
    "overturn-unanswered-appeals": {
        "task": "tasks.tasks.overturn_unanswered_appeals_task",
        "schedule": 3600.0,
    },
    "pay-floor-pilots": {"task": "tasks.tasks.pay_floor_pilots_task", "schedule": 300.0},
}
# Live labels and estimates are batched per bundle: the first submission in this many seconds
# schedules the bundle's live update for the end of the window (tasks.quality.live); 0 runs it
# after every submission (the tests do, so what they assert is deterministic).
QUALITY_LIVE_DEBOUNCE_SECONDS = env.float("QUALITY_LIVE_DEBOUNCE_SECONDS", default=30.0)

# Money (integers in minor units; the fee is a percent of each reward and bonus, at least
# PLATFORM_MIN_FEE_MINOR each: MTurk's one cent). A bundle keeps the terms it was published at.
PLATFORM_FEE_PERCENT = env.int("PLATFORM_FEE_PERCENT", default=20)
PLATFORM_MIN_FEE_MINOR = env.int("PLATFORM_MIN_FEE_MINOR", default=1)
DEFAULT_CURRENCY = "usd"
# The currencies bundles, top-ups and payouts may use (lower-case ISO 4217); anything else is a
# 400 before any ledger account is made.
ALLOWED_CURRENCIES = env.list("ALLOWED_CURRENCIES", default=["usd", "eur", "gbp"])
# Fair pay (issue 15): the platform's minimum hourly pay per currency, in minor units an hour
# (default USD 12/h; override one with PAY_FLOOR_<CUR>_HOURLY_MINOR). Every allowed currency has
# a floor: one it does not list defaults to 1200. The pilot (the first PAY_FLOOR_PILOT_JUDGMENTS
# answers) measures the median work time; publish reserves PAY_FLOOR_MARGIN_PERCENT of the
# rewards on top in escrow for the top-ups to the floor paid at completion.
_PAY_FLOOR_DEFAULTS = {"usd": 1200, "eur": 1100, "gbp": 1000}
PAY_FLOOR_HOURLY_MINOR = {
    c.lower(): env.int(
        f"PAY_FLOOR_{c.upper()}_HOURLY_MINOR", default=_PAY_FLOOR_DEFAULTS.get(c.lower(), 1200)
    )
    for c in ALLOWED_CURRENCIES
}
PAY_FLOOR_PILOT_JUDGMENTS = env.int("PAY_FLOOR_PILOT_JUDGMENTS", default=10)
PAY_FLOOR_MARGIN_PERCENT = env.int("PAY_FLOOR_MARGIN_PERCENT", default=25)
# Due process: a worker appeals a rejection within APPEAL_WINDOW_DAYS; the requester answers
# within APPEAL_ANSWER_DAYS or the rejection is overturned and paid (beat task).
APPEAL_WINDOW_DAYS = env.int("APPEAL_WINDOW_DAYS", default=14)
APPEAL_ANSWER_DAYS = env.int("APPEAL_ANSWER_DAYS", default=7)
PAYOUT_MINIMUM_MINOR = env.int("PAYOUT_MINIMUM_MINOR", default=500)
# A retry of a transfer first sent longer ago than this looks it up at Stripe before sending
# again (Stripe forgets idempotency keys after ~24 h); transient failures are retried for
# PAYOUT_RETRY_GIVE_UP_SECONDS, then the payout waits for an admin ("needs attention").
PAYOUT_TRANSFER_LOOKUP_AFTER_SECONDS = env.int("PAYOUT_TRANSFER_LOOKUP_AFTER_SECONDS", default=3600)
PAYOUT_RETRY_GIVE_UP_SECONDS = env.int("PAYOUT_RETRY_GIVE_UP_SECONDS", default=2 * 86400)
# Fernet keys for workers' bank details (manual payouts), comma-separated: the first encrypts,
# all decrypt (rotation). Empty: one key derived from SECRET_KEY (see docs/operator-guide.md).
PAYOUT_DETAILS_KEYS = env.list("PAYOUT_DETAILS_KEYS", default=[])
# MTurk API notifications are POSTed to the requester's URL; addresses on our own network
# (loopback, private, link-local) are refused unless this is on (tests, a closed network).
MTURK_NOTIFICATION_ALLOW_PRIVATE = env.bool("MTURK_NOTIFICATION_ALLOW_PRIVATE", default=False)
# Celery tasks payments runs (by name, on commit) when a requester falls into debt: payments
# never imports tasks, so the project wires the pause of their live bundles here.
PAYMENTS_REQUESTER_DEBT_TASKS = ["tasks.tasks.pause_bundles_of_requester_task"]

# Stripe: nothing here is read at import time by the gateway; an empty key means "not configured".
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# Connect events (connected accounts' account.updated, deauthorization, payout.failed) come
# from a second endpoint in Stripe's dashboard with its own signing secret; either verifies.
STRIPE_CONNECT_WEBHOOK_SECRET = env("STRIPE_CONNECT_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default=None)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=30.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=2)
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# Structured logs (one JSON object per line) in production, plain text in development.
LOG_FORMAT = env("LOG_FORMAT", default="json" if PRODUCTION else "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "marketplace.logjson.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
