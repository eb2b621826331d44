"""Imports uploaded in the back office: an ImportJob per upload, run in the background.

Members files are members' (members.imports.service); purchase history is loyalty's. Each app
registers its kind of file (register_import_kind); jobs, their progress and their pages are shared.

import_job_create() stores the upload (Django's default storage), records the job and, once the
transaction commits, starts it: as a Celery task when a broker is configured, otherwise (the embedded
mode, where tasks would run inside the request) in a daemon thread, so the upload page answers at once.

import_job_run() is what either calls. It runs a job once: a finished job is left alone, and so is a
job another run holds the lease of (members.job_leases: a dead worker's job is taken over once its lease
runs out, and the sweeper runs it again). The import runs in one long transaction, so its progress
cannot be read from the database meanwhile: it is kept in Django's cache (the default cache: Redis in
production, shared by every process; local memory in the embedded mode, shared by the threads of its
one process; not Django's database cache, whose writes would wait for the import's transaction). The
outcome is written to the job when the import ends, by the run that still holds the lease.
"""

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from members.imports.columns import IgnoredColumn, ImportColumn
from members.imports.engine import SKIP_BAD_ROWS, ImportProgress, ImportResult
from members.imports.reader import ImportFileError
from members.job_leases import Lease, LeaseLost, is_stalled, lease_claim, lease_end, lease_sweep
from members.models import ImportJob
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action
from stores.services import audit_record

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600
PROGRESS_EVERY_SECONDS = 0.5
IMPORT_RETRIED = "members.import_retried"


@dataclass(frozen=True)
class ImportKindSpec:
    """One kind of file the back office imports (ImportJob.Kind), registered by the app that owns it.

    `run` takes open_source, file_name, actor, skip_bad_rows, dry_run, error_report, progress,
    audit_target and the job's options as keywords, and returns an ImportResult; `columns`, `ignored`
    (columns read past, e.g. those of an export) and `template` give the header the upload form checks
    and the downloadable template; `action` is what the uploader's role must allow; `intro` explains
    the upload page.
    """

    kind: str
    title: str
    intro: str
    action: Action
    run: Callable[..., ImportResult]
    columns: Callable[[], list[ImportColumn]]
    template: Callable[[], bytes]
    options: tuple[str, ...] = ()
    ignored: Callable[[], list[IgnoredColumn]] = list


_kinds: dict[str, ImportKindSpec] = {}


def register_import_kind(spec: ImportKindSpec) -> None:
    """Call from AppConfig.ready()."""
    _kinds[spec.kind] = spec


def import_kind(kind: str) -> ImportKindSpec:
    """The registered kind; LookupError for a kind no app registered."""
    try:
        return _kinds[kind]
    except KeyError:
        raise LookupError(kind) from None


def can_import(user, kind: str) -> bool:
    spec = _kinds.get(kind)
    return spec is not None and staff_can(user, spec.action)


def progress_key(job_id: int) -> str:
    return f"members:import:{job_id}:progress"


def job_progress(job: ImportJob) -> dict:
    """What the job page shows: the job's state, and while it runs its live progress from the cache."""
    live = cache.get(progress_key(job.pk)) or {}
    total = job.file_size or 0
    if job.is_finished:
        percent = 100
    elif total:
        read = live.get("bytes_read", 0)
        # Reading is most of the work; checking and writing are the last tenth.
        percent = {"checking": 92, "writing": 95, "report": 98, "done": 99}.get(live.get("phase"))
        percent = percent or min(int(90 * read / total), 90)
    else:
        percent = 0
    return {
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "finished": job.is_finished,
        "stalled": is_stalled(job, progress_key=progress_key(job.pk)),
        "phase": live.get("phase", "queued" if job.status == ImportJob.Status.QUEUED else ""),
        "percent": percent,
        "bytes_read": live.get("bytes_read", 0),
        "total_bytes": total,
        "rows": job.rows if job.is_finished else live.get("rows", 0),
        "rejected": job.rejected_count if job.is_finished else live.get("rejected", 0),
    }


@transaction.atomic
def import_job_create(
    *,
    actor,
    upload,
    mode: str,
    dry_run: bool,
    language: str,
    kind: str = ImportJob.Kind.MEMBERS,
    options: dict | None = None,
) -> ImportJob:
    """Store an uploaded file as a job and start it once this transaction commits."""
    spec = import_kind(kind)
    require_staff_can(actor, spec.action)
    unknown = set(options or {}) - set(spec.options)
    if unknown:
        raise ValueError(f"unknown options for a {kind} import: {sorted(unknown)}")
    job = ImportJob(
        kind=ImportJob.Kind(kind),
        options=dict(options or {}),
        created_by=actor,
        file_name=PurePath(upload.name).name[:255],
        file_size=upload.size or 0,
        mode=ImportJob.Mode(mode),
        dry_run=dry_run,
        language=language[:16],
        # The task should be taken by then; the sweeper sends it again otherwise.
        lease_until=lease_end(),
    )
    job.file.save(job.file_name, upload, save=False)
    job.save()
    transaction.on_commit(partial(import_job_start, job.pk))
    return job


def import_job_start(job_id: int) -> None:
    if settings.BROKER_CONFIGURED:
        from members.tasks import run_member_import

        run_member_import.delay(job_id)
        return
    threading.Thread(target=_run_in_thread, args=(job_id,), name=f"member-import-{job_id}", daemon=True).start()


def _run_in_thread(job_id: int) -> None:
    try:
        import_job_run(job_id=job_id)
        # The embedded mode has no beat: the jobs a restart cut off are run again when a job ends.
        import_jobs_sweep()
    finally:
        # This thread's database connection is its own; close it rather than leave it to the GC.
        connections.close_all()


class _Progress:
    def __init__(self, job_id: int, lease: Lease):
        self.key = progress_key(job_id)
        self.lease = lease
        self.last = 0.0
        self.phase = ""

    def __call__(self, progress: ImportProgress) -> None:
        # Taken over by another run (this one was presumed dead): the import's transaction rolls back.
        self.lease.check()
        now = time.time()
        if progress.phase == self.phase and now - self.last < PROGRESS_EVERY_SECONDS:
            return
        self.phase, self.last = progress.phase, now
        cache.set(
            self.key,
            {
                "phase": progress.phase,
                "bytes_read": progress.bytes_read,
                "rows": progress.rows,
                "rejected": progress.rejected,
                "at": now,
            },
            PROGRESS_TTL,
        )


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Run a queued job to its end and record the outcome; safe to call twice, or on two workers."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return job
    lease = lease_claim(ImportJob, job.pk, progress_key=progress_key(job.pk))
    if lease is None:
        return job
    progress = _Progress(job.pk, lease)
    outcome: dict = {}
    with lease, translation.override(job.language), tempfile.TemporaryFile() as report:
        progress(ImportProgress(phase="starting"))
        try:
            result = import_kind(job.kind).run(
                open_source=partial(default_storage.open, job.file.name, "rb"),
                file_name=job.file_name,
                actor=job.created_by,
                skip_bad_rows=job.mode == SKIP_BAD_ROWS,
                dry_run=job.dry_run,
                error_report=report,
                progress=progress,
                audit_target=job,
                **job.options,
            )
        except LeaseLost:
            return ImportJob.objects.filter(pk=job.pk).first()
        except ImportFileError as error:
            outcome.update(status=ImportJob.Status.REFUSED, message=error.message)
        except Exception:
            logger.exception("member import job %s failed", job.pk)
            outcome.update(
                status=ImportJob.Status.FAILED, message=_("The import failed unexpectedly; nothing was written.")
            )
        else:
            rejected_all = not result.written and not job.dry_run and result.rejected
            outcome.update(
                status=ImportJob.Status.REJECTED if rejected_all else ImportJob.Status.DONE,
                encoding=result.encoding,
                rows=result.rows,
                created_count=result.created,
                updated_count=result.updated,
                unchanged_count=result.unchanged,
                rejected_count=result.rejected,
                written=result.written,
                extra=[[label, value] for label, value in result.extra],
            )
            if result.rejected:
                report.seek(0)
                stem = PurePath(job.file_name).stem[:80] or job.kind
                job.error_report.save(f"{stem}-errors.csv", File(report), save=False)
                outcome["error_report"] = job.error_report.name
    outcome["finished_at"] = timezone.now()
    if not lease.record(**outcome):
        # Taken over meanwhile: the run that holds the job now records its own outcome.
        if outcome.get("error_report"):
            default_storage.delete(outcome["error_report"])
        return ImportJob.objects.filter(pk=job.pk).first()
    cache.set(progress.key, {"phase": "done", "at": time.time()}, PROGRESS_TTL)
    job.refresh_from_db()
    return job


# --- jobs nobody works on ----------------------------------------------------------------------


def _given_up(job: ImportJob) -> str:
    with translation.override(job.language):
        return ngettext(
            "The import was cut off %(attempts)d time before it finished (its worker stopped) and was given up; "
            "nothing was written. Run it again once the cause is found.",
            "The import was cut off %(attempts)d times before it finished (its worker stopped) and was given up; "
            "nothing was written. Run it again once the cause is found.",
            job.attempts,
        ) % {"attempts": job.attempts}


def import_jobs_sweep(*, now=None) -> dict[str, int]:
    """Run again the imports nobody works on, or give them up (members.job_leases)."""
    return lease_sweep(ImportJob, start=import_job_start, progress_key=progress_key, given_up=_given_up, now=now)


def import_job_is_stalled(job: ImportJob) -> bool:
    return is_stalled(job, progress_key=progress_key(job.pk))


def import_job_may_retry(job: ImportJob) -> bool:
    return job.status == ImportJob.Status.FAILED or import_job_is_stalled(job)


@transaction.atomic
def import_job_retry(*, actor, job: ImportJob) -> ImportJob:
    """Run a failed or stalled import again from its start, as a fresh job with its attempts; audited."""
    if not can_import(actor, job.kind):
        raise PermissionDenied
    job = ImportJob.objects.select_for_update().get(pk=job.pk)
    if not import_job_may_retry(job):
        raise ValidationError(
            _("Only an import that failed, or that stopped without finishing, can be run again."),
            code="job_not_retryable",
        )
    before = {"status": job.status, "attempts": job.attempts, "message": job.message, "worker": job.worker}
    retried = ImportJob.objects.filter(pk=job.pk, status=job.status, worker=job.worker).update(
        status=ImportJob.Status.QUEUED, attempts=0, worker="", message="", finished_at=None, lease_until=lease_end()
    )
    if not retried:
        raise ValidationError(_("The import changed meanwhile; look at it again."), code="job_changed")
    audit_record(actor=actor, action=IMPORT_RETRIED, target=job, data={"file": job.file_name, "before": before})
    transaction.on_commit(partial(import_job_start, job.pk))
    job.refresh_from_db()
    return job


def import_files_expire(*, days: int | None = None, now=None) -> dict[str, int]:
    """Delete the uploads and error reports (both hold members' phones and names) of imports finished
    more than `days` days ago (PII_FILE_RETENTION_DAYS by default). The jobs stay, with their figures
    and the file's name; the page no longer offers the report. Safe to run twice, or on two workers: a
    job's files are deleted only by the run whose update emptied its fields."""
    days = settings.PII_FILE_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = (
        ImportJob.objects.filter(status__in=ImportJob.FINISHED, finished_at__lt=cutoff)
        .exclude(file="", error_report="")
        .only("pk", "file", "error_report")
    )
    deleted = 0
    for job in old.iterator():
        names = [name for name in (job.file.name, job.error_report.name) if name]
        # The row first: once its fields are empty, no download tries the files.
        if ImportJob.objects.filter(pk=job.pk, file=job.file.name, error_report=job.error_report.name).update(
            file="", error_report=""
        ):
            for name in names:
                default_storage.delete(name)
                deleted += 1
    return {"import_files": deleted}
