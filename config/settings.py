"""Settings, all read from the environment (README, "Production shape").

With no environment at all the project runs embedded: SQLite, tasks executed in-process, DEBUG on.
"""

from datetime import timedelta
from pathlib import Path

import environ

from config.log_filters import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The default key exists so the embedded mode starts with no set-up. With DEBUG off the web and Celery
# processes refuse to start on it (config/production.py) and `check --deploy` fails.
DEV_SECRET_KEY = "insecure-embedded-default-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "config.admin_site.BackOfficeAdminConfig",  # django.contrib.admin with one rule for every list
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "django_htmx",
    "stores",
    "members",
    "loyalty",
    "servicecards",
    "campaigns",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who looked at which member: written before the response leaves (members.access).
    "members.access.MemberAccessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "stores.sessions.SessionTimeoutMiddleware",
    # As django-axes asks, after the others: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
    # Last, so it sees a view's exception first: a database out of reach is a 503, not a crash.
    "config.middleware.DatabaseUnavailableMiddleware",
]

# django-axes first: it refuses a locked-out login before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let the embedded server take a till's writes while the back
    # office reads, and make writers queue instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Chinese input formats that read back what they show (config/formats/zh_Hans/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
# Business days (birthday month, member day, annual clearing) are counted in China's local time.
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Uploads (import files), import error reports and export files hold personal data: they are stored
# here readable by their owner only (0600 whatever the umask; web and worker run as one user), served
# only through views that check the staff member's role, never at MEDIA_URL, and deleted
# PII_FILE_RETENTION_DAYS after their job finished (members.tasks.expire_exports, daily).
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"
PII_FILE_RETENTION_DAYS = env.int("PII_FILE_RETENTION_DAYS", default=7)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# Where callers come from (login lockouts, API throttles): REMOTE_ADDR, or behind this many reverse proxies
# that each append to X-Forwarded-For, the address the outermost one saw (config.throttling.client_address).
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)

# Logins (django-axes; README, "Logins, tokens and sessions"). A wrong password counts against the account
# and against the address it came from; past either limit, no login gets in (right password or not) until
# the cool-off has passed since the last failure or HQ unlocks it. A store's tablets share one address.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env.int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", default=20)
LOGIN_COOLOFF_MINUTES = env.int("LOGIN_COOLOFF_MINUTES", default=15)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "stores.logins.LoginAttemptHandler"
AXES_LOCKOUT_CALLABLE = "stores.logins.lockout_response"
AXES_CLIENT_IP_CALLABLE = "config.throttling.client_address"
# A success must not wipe the address's failures: a cashier would guess a manager's password between
# logins of their own. HQ unlocks on its own audited page, not in axes' admin.
AXES_RESET_ON_SUCCESS = False
AXES_ENABLE_ADMIN = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "approver_username", "approver_password"]
AXES_VERBOSE = False  # failures are still logged; not every success and every start

# Sessions: a tablet is a shared device, so its login ends after this long without use and after a shift
# at most; the back office's after longer (stores.sessions). The cookie lives as long as the longest.
TABLET_SESSION_IDLE_MINUTES = env.int("TABLET_SESSION_IDLE_MINUTES", default=15)
TABLET_SESSION_MAX_HOURS = env.int("TABLET_SESSION_MAX_HOURS", default=12)
BACK_OFFICE_SESSION_IDLE_MINUTES = env.int("BACK_OFFICE_SESSION_IDLE_MINUTES", default=60)
BACK_OFFICE_SESSION_MAX_HOURS = env.int("BACK_OFFICE_SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = max(TABLET_SESSION_MAX_HOURS, BACK_OFFICE_SESSION_MAX_HOURS) * 3600

# Integration tokens (django-rest-knox, stores.IntegrationToken): stored as SHA-512 digests, shown once,
# valid this many days unless HQ chooses otherwise, revocable one by one.
KNOX_TOKEN_MODEL = "stores.IntegrationToken"
# knox's own migrations create its default token table even though stores.IntegrationToken replaces it; a
# table nobody uses that points at users would also stop the tests' flush. With no migrations for knox,
# its swapped-out model gets no table.
MIGRATION_MODULES = {"knox": None}
INTEGRATION_TOKEN_DAYS = env.int("INTEGRATION_TOKEN_DAYS", default=90)
REST_KNOX = {"TOKEN_TTL": timedelta(days=INTEGRATION_TOKEN_DAYS), "AUTO_REFRESH": False}

# The store tablet (templates/tablet/): members seen on a tablet stay findable offline this long, and
# the sell page offers these categories for lines (they are what earning rules exclude or boost).
TABLET_OFFLINE_MEMBER_HOURS = env.int("TABLET_OFFLINE_MEMBER_HOURS", default=12)
TABLET_SALE_CATEGORIES = env.list("TABLET_SALE_CATEGORIES", default=["饮品", "零食", "烘焙", "日用品", "生鲜", "烟酒"])

# --- Security (README, "Production shape") ---------------------------------------------------------
# Production is DEBUG off: HTTPS only, secure cookies, HSTS, unless a variable below says otherwise. The
# embedded mode (`make run`: DEBUG on) serves plain HTTP on 127.0.0.1 with none of it. The processes that
# serve production refuse to start on the embedded SECRET_KEY (config/production.py).
if not DEBUG:
    # Behind the TLS proxy of the production shape, which sets this header on every request it forwards.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# A load balancer probes /healthz over plain HTTP, straight at gunicorn.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Asking browsers to preload HTTPS for the whole registered domain is its owner's decision, not ours: the
# directive is offered (SECURE_HSTS_PRELOAD=1), and its absence is no warning of `check --deploy`.
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# Django's defaults, stated because `check --deploy` and the reviewers look for them.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Member data at rest (members.crypto; README, "Keys of the member data"). MEMBER_DATA_KEYS is
# "id:base64-key,…", the first one encrypts and every one decrypts, so a key is rotated by putting a new
# one first and running `rotate_member_keys`; MEMBER_INDEX_KEY keys the blind indexes. Without them the
# keys are read from MEMBER_KEYS_FILE, generated there on first use (the embedded mode's no set-up);
# production refuses to start without both in the environment (config/production.py).
MEMBER_DATA_KEYS = env.str("MEMBER_DATA_KEYS", default="")
MEMBER_INDEX_KEY = env.str("MEMBER_INDEX_KEY", default="")
MEMBER_KEYS_FILE = env.path("MEMBER_KEYS_FILE", default=BASE_DIR / ".member-keys")

# Celery: a broker when CELERY_BROKER_URL is set; otherwise tasks run in-process (embedded mode).
BROKER_CONFIGURED = bool(env.str("CELERY_BROKER_URL", default=""))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_ALWAYS_EAGER = not BROKER_CONFIGURED
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
# A task whose worker process is killed goes back to the queue at once instead of being lost.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Redis hands a task that was delivered but not acknowledged (acks_late) to another worker after this
# many seconds. Longer than the longest countdown of a retry (Celery's retry_backoff_max, 10 minutes), so
# a delayed retry is not delivered twice. Not longer than the longest import or export, on purpose: one
# that outlasts it is delivered again, and that delivery finds the job's lease live and returns
# (members.job_leases). A task of a worker killed outright comes back after it; an import or export
# sooner, through the sweeper (JOB_LEASE_SECONDS and a minute).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
# Imports and exports (members.job_leases): a run holds its job for JOB_LEASE_SECONDS and renews the
# lease every JOB_HEARTBEAT_SECONDS; a job whose lease ran out is run again, at most JOB_MAX_ATTEMPTS times.
JOB_LEASE_SECONDS = env.int("JOB_LEASE_SECONDS", default=600)
JOB_HEARTBEAT_SECONDS = env.int("JOB_HEARTBEAT_SECONDS", default=60)
JOB_MAX_ATTEMPTS = env.int("JOB_MAX_ATTEMPTS", default=3)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header lets DRF answer 401 (not 403) to a caller not logged in.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "stores.authentication.IntegrationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Throttles count in the cache: set CACHE_URL to Redis when more than one process serves (README).
    "DEFAULT_THROTTLE_CLASSES": ["config.throttling.UserThrottle", "config.throttling.WriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "write": env.str("API_THROTTLE_WRITE", default="600/min"),
        # Wrong tokens, by address: the only guessing the API allows.
        "bad_token": env.str("API_THROTTLE_BAD_TOKEN", default="10/min"),
    },
    "NUM_PROXIES": TRUSTED_PROXIES,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API error is {"code", "message", "field"} (config/api.py).
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Member loyalty & cashier API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema for staff in the back office and for integrations with a token; the docs page for staff.
    "SERVE_PERMISSIONS": ["stores.authentication.StaffOrIntegration"],
    # The API docs page must work on a closed store network: its assets come from a pip package.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Tenders and behaviour events both have a "kind"; name their enums apart.
    "ENUM_NAME_OVERRIDES": {
        "TenderKindEnum": "loyalty.models.SaleTender.Kind",
        "SaleChannelEnum": "loyalty.models.Sale.Channel",
        "BehaviourEventKindEnum": ["review", "share"],
        # Coupons and mall items have a "kind" too, and coupons and mall orders a "status" and "source".
        "CouponKindEnum": "campaigns.models.CouponTemplate.Kind",
        "MallItemKindEnum": "campaigns.models.MallItem.Kind",
        "CouponStatusEnum": "campaigns.models.Coupon.Status",
        "CouponSourceEnum": "campaigns.models.Coupon.Source",
        "MallOrderStatusEnum": "campaigns.models.MallOrder.Status",
        # The two opt-out calls (by path and by body) share their "source" and "channel".
        "OptOutSourceEnum": ["sms_reply", "email_unsubscribe", "wechat", "staff"],
        "MessageChannelEnum": "campaigns.models.MessageChannel",
        # Service cards have a "kind" and a "status" of their own, and so do their ledger and appointments.
        "CardKindEnum": "servicecards.models.CardProduct.Kind",
        "MemberCardStatusEnum": "servicecards.models.MemberCard.Status",
        "CardEntryKindEnum": "servicecards.models.CardEntry.Kind",
        "AppointmentStatusEnum": "servicecards.models.Appointment.Status",
    },
}

# Members: phones are stored in E.164; numbers typed without a country code are read as mainland China.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="CN")
# The member access log (members.access): kept this many days (China's Cybersecurity Law: at least 180);
# the HQ home lists store staff who, over the last WATCH_DAYS, looked at more distinct members than
# WATCH_FACTOR times the members who bought at their stores, and more than WATCH_MIN.
MEMBER_ACCESS_RETENTION_DAYS = env.int("MEMBER_ACCESS_RETENTION_DAYS", default=365)
# Members without any activity (purchase, top-up, sign-in, mall order, profile edit) for this many years are
# erased by a nightly task (members.retention); the HQ home lists who is next. Off by default: how long to
# keep a member is the chain's policy to decide (PIPL asks for "the shortest period necessary").
MEMBER_RETENTION_YEARS = env.int("MEMBER_RETENTION_YEARS", default=None)
# The version of the marketing consent's wording (the tablet's "…and to receive offers by SMS", the paper form):
# each consent record keeps it, so the chain can show which text a member agreed to. Change it with the text.
MARKETING_CONSENT_TEXT_VERSION = env.str("MARKETING_CONSENT_TEXT_VERSION", default="2026-01")
MEMBER_ACCESS_WATCH_DAYS = env.int("MEMBER_ACCESS_WATCH_DAYS", default=7)
MEMBER_ACCESS_WATCH_FACTOR = env.int("MEMBER_ACCESS_WATCH_FACTOR", default=3)
MEMBER_ACCESS_WATCH_MIN = env.int("MEMBER_ACCESS_WATCH_MIN", default=50)
MEMBER_ACCESS_WATCH_CACHE_SECONDS = env.int("MEMBER_ACCESS_WATCH_CACHE_SECONDS", default=300)
# Beyond this many rows the admin changelist shows the planner's estimate instead of COUNT(*).
ADMIN_EXACT_COUNT_LIMIT = env.int("ADMIN_EXACT_COUNT_LIMIT", default=10_000)

# Email, for the outbox's email backend and Django's own mail: e.g. smtp+tls://user:password@smtp.example.com:587.
vars().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="webmaster@localhost")

# The outbox (campaigns.messaging): each channel's backend, by name (file, console, email, sms-gateway) or
# the dotted path of a class. Embedded default: every channel writes JSON lines to MESSAGE_FILE_PATH.
MESSAGE_SMS_BACKEND = env.str("MESSAGE_SMS_BACKEND", default="file")
MESSAGE_EMAIL_BACKEND = env.str("MESSAGE_EMAIL_BACKEND", default="file")
MESSAGE_WECHAT_BACKEND = env.str("MESSAGE_WECHAT_BACKEND", default="file")
MESSAGE_FILE_PATH = env.path("MESSAGE_FILE_PATH", default=BASE_DIR / "outbox.jsonl")
# Temporary failures are retried after 1, 2, 4, … minutes (at most an hour apart) until the last attempt.
MESSAGE_MAX_ATTEMPTS = env.int("MESSAGE_MAX_ATTEMPTS", default=5)
MESSAGE_RETRY_SECONDS = env.int("MESSAGE_RETRY_SECONDS", default=60)
# A whole SMS (long ones are billed in parts of 67 characters), and what marketing SMS end with: China's rules
# want every marketing SMS to say how to opt out, and the replies come back through the opt-out API.
MESSAGE_SMS_MAX_LENGTH = env.int("MESSAGE_SMS_MAX_LENGTH", default=500)
MESSAGE_SMS_OPT_OUT_TEXT = env.str("MESSAGE_SMS_OPT_OUT_TEXT", default=" 回T退订")
# The example SMS adapter (campaigns.messaging.sms.HttpSmsGateway, backend name "sms-gateway").
MESSAGE_SMS_GATEWAY_URL = env.str("MESSAGE_SMS_GATEWAY_URL", default="")
MESSAGE_SMS_GATEWAY_TOKEN = env.str("MESSAGE_SMS_GATEWAY_TOKEN", default="")
MESSAGE_SMS_SIGNATURE = env.str("MESSAGE_SMS_SIGNATURE", default="")

# Every handler masks phones (config.log_filters); gunicorn's own logs: config/gunicorn.py.
LOGGING = logging_config(env.str("LOG_LEVEL", default="INFO"))
