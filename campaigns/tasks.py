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


# Beat runs it every hour (migration 0005_automations); "Run now" in the back office asks for one
# automation. Occurrence keys make a second run, or two at once, reach nobody twice.
@shared_task(
    name="campaigns.tasks.run_automations",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
)
def run_automations(automation_id: int | None = None) -> list[dict]:
    """Run the scheduled triggers of the active automations (or the one given)."""
    from campaigns.services.automations import automations_run

    results = automations_run(automation_id=automation_id)
    for result in results:
        logger.info(
            "run_automations: %s reached %d, held out %d, capped %d, skipped %s",
            result.automation_id,
            result.reached,
            result.held_out,
            result.capped,
            dict(result.skipped),
        )
    return [{"automation": r.automation_id, "reached": r.reached, "held_out": r.held_out} for r in results]


# Enqueued after the commit of a sale, a referral reward or a top-up (campaigns.services.automations hooks).
@shared_task(
    name="campaigns.tasks.run_automation_event",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=10,
    max_retries=3,
)
def run_automation_event(trigger: str, member_id: int, occurrence: str) -> int:
    """The event trigger's automations for one member; returns how many reached them."""
    from campaigns.services.automations import automations_run_event

    return sum(r.reached for r in automations_run_event(trigger=trigger, member_id=member_id, occurrence=occurrence))


# Beat runs it every five minutes (migration 0004_campaigns): launches what is due, finishes what ended.
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


# Beat runs it daily at 10:00 China time (migration 0011_service_reminders): tomorrow's appointments and
# the next visits due today. The outbox's keys make a second run, or two at once, reach nobody twice.
@shared_task(
    name="campaigns.tasks.queue_service_reminders",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError,),
    retry_backoff=60,
    max_retries=3,
)
def queue_service_reminders() -> dict:
    """Queue the day-before reminders of appointments and the "time for your next treatment" ones."""
    from campaigns.services.service_reminders import service_reminders_queue

    summary = service_reminders_queue()
    logger.info("queue_service_reminders: %s", summary)
    return summary
