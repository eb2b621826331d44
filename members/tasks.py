"""Background jobs of the members app: thin Celery tasks around services (DESIGN §3)."""

import logging

from celery import shared_task
from django.conf import settings

from members.export_jobs import export_job_run, export_jobs_expire, export_jobs_sweep
from members.imports.jobs import import_files_expire, import_job_run, import_jobs_sweep

logger = logging.getLogger(__name__)

# A million-row import takes minutes and ten million purchase lines about half an hour (README,
# "Performance"); a run still going after this long hangs.
JOB_TIME_LIMIT = 6 * 3600


# Acknowledged late: a worker that dies mid-import leaves the task on the queue and its transaction is
# rolled back. The task delivered again, or the sweeper, runs the job again once its lease has run out
# (import_job_run runs a finished job never, and a running one only then: members.job_leases). A run that
# hangs is killed after JOB_TIME_LIMIT, and its lease runs out the same way.
@shared_task(
    name="members.tasks.run_member_import", acks_late=True, reject_on_worker_lost=True, time_limit=JOB_TIME_LIMIT
)
def run_member_import(job_id: int) -> dict:
    """Run one uploaded members import (members.imports.jobs)."""
    job = import_job_run(job_id=job_id)
    summary = {"job": job_id, "status": job.status if job is not None else "missing"}
    logger.info("run_member_import: job %(job)s %(status)s", summary)
    return summary


# Acknowledged late, like the import: a worker that dies mid-export leaves the task on the queue, and the
# job is written again once its lease has run out (members.job_leases).
@shared_task(name="members.tasks.run_export", acks_late=True, reject_on_worker_lost=True, time_limit=JOB_TIME_LIMIT)
def run_export(job_id: int) -> dict:
    """Write one back-office export too large for the request (members.export_jobs)."""
    job = export_job_run(job_id=job_id)
    summary = {"job": job_id, "status": job.status if job is not None else "missing"}
    logger.info("run_export: job %(job)s %(status)s", summary)
    return summary


# Beat runs it hourly (migrations members 0006 and 0014). Its name stays: the schedule names it.
@shared_task(name="members.tasks.expire_exports", acks_late=True, reject_on_worker_lost=True)
def expire_exports(days: int | None = None) -> dict[str, int]:
    """Delete the files with personal data of jobs finished more than `days` days ago
    (PII_FILE_RETENTION_DAYS by default): exports (their jobs say expired), import uploads and import
    error reports. Idempotent."""
    days = settings.PII_FILE_RETENTION_DAYS if days is None else days
    summary = {**export_jobs_expire(days=days), **import_files_expire(days=days)}
    logger.info(
        "expire_exports: %(expired)d export files, %(partial_files)d temporary files, "
        "%(import_files)d import uploads and error reports deleted",
        summary,
    )
    return summary


# Beat runs it every minute (migration members 0009).
@shared_task(name="members.tasks.sweep_jobs", acks_late=True, reject_on_worker_lost=True)
def sweep_jobs() -> dict[str, dict[str, int]]:
    """Run again the imports and exports whose worker died, or give them up (members.job_leases)."""
    summary = {"imports": import_jobs_sweep(), "exports": export_jobs_sweep()}
    if any(any(counts.values()) for counts in summary.values()):
        logger.warning("sweep_jobs: %s", summary)
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


# Beat runs it nightly (migration members 0015); it does nothing unless MEMBER_RETENTION_YEARS is set.
@shared_task(name="members.tasks.erase_inactive_members", acks_late=True, reject_on_worker_lost=True)
def erase_inactive_members() -> dict:
    """Erase the members the retention rule says are due (members.retention)."""
    from members.retention import retention_erase

    run = retention_erase()
    summary = {"erased": run.erased, "kept": len(run.kept)}
    logger.info("erase_inactive_members: %(erased)d erased, %(kept)d kept", summary)
    return summary
