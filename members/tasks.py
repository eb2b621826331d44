"""Background jobs of the members app: thin Celery tasks around services (DESIGN §3)."""

import logging

from celery import shared_task

from members.export_jobs import EXPORT_KEEP_DAYS, export_job_run, export_jobs_expire
from members.imports.jobs import import_job_run

logger = logging.getLogger(__name__)


# Acknowledged late: a worker that dies mid-import leaves the task on the queue, its transaction is
# rolled back, and the next worker runs the job again (import_job_run runs a finished job never, and a
# running one only once its progress has gone stale).
@shared_task(name="members.tasks.run_member_import", acks_late=True, reject_on_worker_lost=True)
def run_member_import(job_id: int) -> dict:
    """Run one uploaded members import (members.imports.jobs)."""
    job = import_job_run(job_id=job_id)
    summary = {"job": job_id, "status": job.status if job is not None else "missing"}
    logger.info("run_member_import: job %(job)s %(status)s", summary)
    return summary


# Acknowledged late, like the import: a worker that dies mid-export leaves the task on the queue and
# the next worker writes the file again (export_job_run writes a finished job never, and a running one
# only once its progress has gone stale).
@shared_task(name="members.tasks.run_export", acks_late=True, reject_on_worker_lost=True)
def run_export(job_id: int) -> dict:
    """Write one back-office export too large for the request (members.export_jobs)."""
    job = export_job_run(job_id=job_id)
    summary = {"job": job_id, "status": job.status if job is not None else "missing"}
    logger.info("run_export: job %(job)s %(status)s", summary)
    return summary


@shared_task(name="members.tasks.expire_exports", acks_late=True, reject_on_worker_lost=True)
def expire_exports(days: int = EXPORT_KEEP_DAYS) -> dict[str, int]:
    """Delete export files older than `days` days and mark their jobs expired (idempotent)."""
    summary = export_jobs_expire(days=days)
    logger.info("expire_exports: %(expired)d files deleted, %(partial_files)d temporary files", summary)
    return summary


@shared_task(name="members.tasks.maintain_access_log", acks_late=True, reject_on_worker_lost=True)
def maintain_access_log() -> dict[str, int]:
    """Keep the member access log within its retention and its coming months' partitions ready."""
    from members.access import member_access_maintain

    summary = member_access_maintain()
    logger.info(
        "maintain_access_log: %(partitions_created)d partitions created, %(partitions_dropped)d dropped, "
        "%(rows_deleted)d rows deleted",
        summary,
    )
    return summary
