"""Background jobs of the campaigns app: thin Celery tasks around services (DESIGN §3).

Each is safe to run twice, or on two workers at once, with one effect: acknowledged late, a task whose
worker dies is run again and only finishes what the first run left.
"""

import logging

from celery import shared_task
from django.db import OperationalError

from campaigns.services.messaging import messages_send_due

logger = logging.getLogger(__name__)


# Beat runs it every minute (migration 0003_messaging) and the queue services ask for it after queueing.
# A run sends for at most 50 seconds; what is left is the next run's.
@shared_task(
    name="campaigns.tasks.send_due_messages",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=3,
)
def send_due_messages() -> dict[str, int]:
    """Send the outbox's due messages through their channels' backends."""
    summary = messages_send_due()
    logger.info(
        "send_due_messages: %(sent)d sent, %(retry)d to retry, %(failed)d failed, %(skipped)d skipped, "
        "%(requeued)d requeued and %(unknown)d of unknown outcome after a stopped worker",
        summary,
    )
    return summary


# Beat runs it every five minutes (migration 0005_campaigns): launches what is due, finishes what ended.
@shared_task(
    name="campaigns.tasks.run_due_campaigns",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=3,
)
def run_due_campaigns() -> dict[str, int]:
    """Launch scheduled campaigns that have started and mark ended ones finished."""
    from campaigns.services.campaigns import campaigns_run_due

    summary = campaigns_run_due()
    logger.info(
        "run_due_campaigns: %(launched)d launched, %(failed)d could not be, %(finished)d finished, "
        "%(points_awarded)d points awards",
        summary,
    )
    return summary
