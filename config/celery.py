import os

from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("loyalty_backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def refuse_development_defaults(**kwargs) -> None:
    """A worker or beat in production does not start on the embedded SECRET_KEY (config/production.py)."""
    from django.core.exceptions import ImproperlyConfigured

    from config.production import refuse_development_defaults as refuse

    try:
        refuse()
    except ImproperlyConfigured as error:
        # Celery logs and carries on past any Exception a signal handler raises; SystemExit stops it.
        raise SystemExit(f"ImproperlyConfigured: {error}") from None


@setup_logging.connect
def use_project_logging(**kwargs) -> None:
    """Workers and beat log through settings.LOGGING, whose every handler masks phones
    (config.log_filters), rather than the handlers Celery would put on the root logger itself."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
