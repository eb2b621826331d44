"""Settings, all read from the environment (README, "Production shape").

With no environment at all the project runs embedded: SQLite, tasks executed in-process, DEBUG on.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# The default key exists so the embedded mode starts with no set-up; `check --deploy` refuses it.
DEV_SECRET_KEY = "insecure-embedded-default-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default=DEV_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "import_export",
    "django_htmx",
    "stores",
    "members",
    "loyalty",
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
# Uploads (member import files and their error reports) hold personal data: they are stored here and
# served only through views that check the staff member's role, never at MEDIA_URL.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# The store tablet (templates/tablet/): members seen on a tablet stay findable offline this long, and
# the sell page offers these categories for lines (they are what earning rules exclude or boost).
TABLET_OFFLINE_MEMBER_HOURS = env.int("TABLET_OFFLINE_MEMBER_HOURS", default=12)
TABLET_SALE_CATEGORIES = env.list("TABLET_SALE_CATEGORIES", default=["饮品", "零食", "烘焙", "日用品", "生鲜", "烟酒"])

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)

# Celery: a broker when CELERY_BROKER_URL is set; otherwise tasks run in-process (embedded mode).
BROKER_CONFIGURED = bool(env.str("CELERY_BROKER_URL", default=""))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "memory://"
CELERY_TASK_ALWAYS_EAGER = not BROKER_CONFIGURED
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

REST_FRAMEWORK = {
    # Token first: its WWW-Authenticate header lets DRF answer 401 (not 403) to a caller not logged in.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every API error is {"code", "message", "field"} (config/api.py).
    "EXCEPTION_HANDLER": "config.api.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Member loyalty & cashier API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
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
    },
}

# Members: phones are stored in E.164; numbers typed without a country code are read as mainland China.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="CN")
# The member access log (members.access): kept this many days (China's Cybersecurity Law: at least 180);
# the HQ home lists store staff who, over the last WATCH_DAYS, looked at more distinct members than
# WATCH_FACTOR times the members who bought at their stores, and more than WATCH_MIN.
MEMBER_ACCESS_RETENTION_DAYS = env.int("MEMBER_ACCESS_RETENTION_DAYS", default=365)
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
