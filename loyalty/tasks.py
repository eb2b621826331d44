"""Scheduled loyalty jobs (Celery beat runs them; migrations 0002 and 0012 create their schedules).

Each task is a thin wrapper around a service that is safe to run twice, or on two workers at once,
with one effect (DESIGN §4, Concurrency). So the tasks are acknowledged late: a worker that dies
half-way leaves the message on the queue and another worker runs the job again from the start,
which only finishes what the first one left. Each returns a small summary and logs it.
"""

import logging

from celery import shared_task
from django.db import OperationalError

from loyalty.selectors import members_with_points_expiring
from loyalty.services import points_birthday_pay_due, points_expire_due, points_unlock_due, tiers_evaluate

logger = logging.getLogger(__name__)

_JOB_OPTIONS = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    # A lost database connection or a deadlock victim is worth a retry: the job is idempotent.
    "autoretry_for": (OperationalError,),
    "retry_backoff": 30,
    "max_retries": 3,
}


@shared_task(name="loyalty.tasks.expire_points", **_JOB_OPTIONS)
def expire_points() -> dict[str, int]:
    """Expire what is left of every lot whose expiry has passed."""
    summary = points_expire_due()
    logger.info("expire_points: %(entries)d lots of %(members)d members, %(points)d points expired", summary)
    return summary


@shared_task(name="loyalty.tasks.unlock_pending_points", **_JOB_OPTIONS)
def unlock_pending_points() -> dict[str, int]:
    """Make pending points spendable once their return window has passed."""
    summary = points_unlock_due()
    logger.info("unlock_pending_points: %(lots)d lots unlocked", summary)
    return summary


@shared_task(name="loyalty.tasks.evaluate_tiers", **_JOB_OPTIONS)
def evaluate_tiers() -> dict[str, int]:
    """Downgrade members whose tier no longer holds once its retention has passed."""
    summary = tiers_evaluate()
    logger.info("evaluate_tiers: %(examined)d members examined, %(downgraded)d downgraded", summary)
    return summary


@shared_task(name="loyalty.tasks.points_expiring_soon", **_JOB_OPTIONS)
def points_expiring_soon(days: int = 7) -> dict:
    """The members whose points expire within `days` days, soonest first (campaigns message them).

    Reads only; the summary carries the member ids under "member_ids".
    """
    rows = list(members_with_points_expiring(within_days=days))
    summary = {
        "days": days,
        "members": len(rows),
        "points": sum(row["points"] for row in rows),
        "member_ids": [row["member_id"] for row in rows],
    }
    logger.info("points_expiring_soon: %(members)d members, %(points)d points within %(days)d days", summary)
    return summary


@shared_task(name="loyalty.tasks.pay_birthday_points", **_JOB_OPTIONS)
def pay_birthday_points() -> dict[str, int]:
    """Pay each tier's birthday points, once a year, to the members whose birthday month it is."""
    summary = points_birthday_pay_due()
    logger.info("pay_birthday_points: %(paid)d of %(members)d members paid, %(points)d points", summary)
    return summary
