"""The nightly scoring job (migration 0002 creates its beat schedule). Two runs at once do not double
anything: the second finds the advisory lock taken and returns; a run replaces the scores as a whole."""

import logging

from celery import shared_task
from django.db import OperationalError

from analytics.services import score_members

logger = logging.getLogger(__name__)


@shared_task(
    name="analytics.tasks.score_members",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
)
def score_members_task() -> dict:
    result = score_members()
    summary = {
        "as_of": str(result.as_of),
        "members": result.members,
        "at_risk": result.at_risk,
        "skipped": result.skipped,
    }
    logger.info("score_members: %s", summary)
    return summary
