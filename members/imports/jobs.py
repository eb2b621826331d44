"""Imports uploaded in the back office: an ImportJob per upload, run in the background.

Members files are members' (members.imports.service); purchase history is loyalty's. Each app
registers its kind of file (register_import_kind); jobs, their progress and their pages are shared.

import_job_create() stores the upload (Django's default storage), records the job and, once the
transaction commits, starts it: as a Celery task when a broker is configured, otherwise (the embedded
mode, where tasks would run inside the request) in a daemon thread, so the upload page answers at once.

import_job_run() is what either calls. It runs a job once: a finished job is left alone, a job that
another worker is running (its progress moved within STALE_AFTER) too. The import runs in one long
transaction, so its progress cannot be read from the database meanwhile: it is kept in Django's cache
(the default cache: Redis in production, shared by every process; local memory in the embedded mode,
shared by the threads of its one process; not Django's database cache, whose writes would wait for
the import's transaction). The outcome is written to the job when the import ends.
"""

import logging
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import PurePath

from django.conf import settings
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from members.imports.columns import IgnoredColumn, ImportColumn
from members.imports.engine import SKIP_BAD_ROWS, ImportProgress, ImportResult
from members.imports.reader import ImportFileError
from members.models import ImportJob
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action

logger = logging.getLogger(__name__)

PROGRESS_TTL = 24 * 3600
STALE_AFTER = 15 * 60
PROGRESS_EVERY_SECONDS = 0.5


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
    finally:
        # This thread's database connection is its own; close it rather than leave it to the GC.
        connections.close_all()


def _claim(job: ImportJob) -> bool:
    now = timezone.now()
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=now
    )
    if not claimed:
        # Running already: on another worker, unless that worker died (then its progress stopped moving
        # and the broker handed the task on; the dead worker's transaction was rolled back).
        live = cache.get(progress_key(job.pk))
        if live is not None and time.time() - live.get("at", 0) < STALE_AFTER:
            return False
        claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(started_at=now)
    if claimed:
        job.status, job.started_at = ImportJob.Status.RUNNING, now
    return bool(claimed)


class _Progress:
    def __init__(self, job_id: int):
        self.key = progress_key(job_id)
        self.last = 0.0
        self.phase = ""

    def __call__(self, progress: ImportProgress) -> None:
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
    """Run a queued job to its end and record the outcome; safe to call twice."""
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.is_finished or not _claim(job):
        return job
    progress = _Progress(job.pk)
    progress(ImportProgress(phase="starting"))
    outcome: dict = {}
    with translation.override(job.language), tempfile.TemporaryFile() as report:
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
    for field, value in outcome.items():
        setattr(job, field, value)
    job.finished_at = timezone.now()
    job.save(update_fields=[*outcome, "finished_at", "error_report"])
    cache.set(progress.key, {"phase": "done", "at": time.time()}, PROGRESS_TTL)
    return job
