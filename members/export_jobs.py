"""Exports from the back office too large for a web request: an ExportJob each, written in the background.

A back-office export page prepares its export as before (members.exports.member_export_prepare,
loyalty.exports.ledger_export_prepare: checked, counted and audited, one audit row). A small one is
then streamed in the request, as it always was; a larger one (export_runs_in_background) becomes a job
(export_job_create) and the browser goes to the job's page, which shows the rows being written and then
the download link. gunicorn kills a sync worker after 30 s, and a million members take 20 s as CSV and
66 s as XLSX: they cannot be written inside the request.

export_job_create() records what a worker needs to write the same rows again and, once the transaction
commits, starts the job: as a Celery task when a broker is configured, otherwise (the embedded mode,
where tasks would run inside the request) in a daemon thread, so the page answers at once — as imports
do (members.imports.jobs).

export_job_run() is what either calls. It runs a job once: a finished job is left alone, and so is a job
another run holds the lease of (members.job_leases: a dead worker's job is taken over once its lease runs
out, and the sweeper runs it again). It writes with the role of whoever asked, never more: phones are
full only if that person's role may see them, then and now. The file is written whole or not at all
(TabularExport.write_to: a temporary file renamed at the end), and only the run that still holds the
lease records it. Progress (rows written) is kept in Django's cache, as for
imports: a worker writes it every half second, which would be a database write each time (and on SQLite
a wait for the one writer's lock the tills share); the outcome is written to the job when it ends.

Files hold personal data: they are stored under MEDIA_ROOT/exports/ (never served at MEDIA_URL), served
only by the job's download view, which checks the role, and deleted after EXPORT_KEEP_DAYS by a periodic
task (export_jobs_expire; migration members 0006 schedules it).
"""

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from config.tabular import CSV, XLSX, TabularExport
from members.exports import member_export_build, resolve_member_export_columns
from members.job_leases import Lease, LeaseLost, is_stalled, lease_claim, lease_end, lease_sweep
from members.models import ExportJob, Member
from members.phones import sees_full_phones
from stores.permissions import require_staff_can, staff_can
from stores.roles import Action
from stores.services import audit_record

logger = logging.getLogger(__name__)

# Exports up to these sizes are still written inside the request, as before: at the benchmark's rates
# (CSV 51,000 rows/s, XLSX 15,000 rows/s; README, "Members export") that is about a second of work, so
# the request stays far inside gunicorn's 30 s even on a busy server, with the loyalty columns or on
# SQLite, and a small file comes at once, without a detour through a job page. XLSX's limit is lower:
# it is three times slower to write and nothing is sent before its last row is.
STREAM_MAX_ROWS = {CSV: 50_000, XLSX: 10_000}
# The default of settings.PII_FILE_RETENTION_DAYS, which is what the cleanup reads.
EXPORT_KEEP_DAYS = 7
PROGRESS_TTL = 24 * 3600
PROGRESS_EVERY_SECONDS = 0.5
EXPORT_RETRIED = "members.export_retried"


class ExportJobRefused(Exception):
    """The job cannot be written as it was asked for; `message` says why, for the job page."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ExportKindSpec:
    """One kind of export (ExportJob.Kind), registered by the app that owns its rows.

    `rebuild(job, full_phones=…)` returns the job's TabularExport again, without checks or audit (they
    happened when it was asked for); `page` is the URL name of the page it is asked from.
    """

    kind: str
    rebuild: Callable[..., TabularExport]
    page: str


_kinds: dict[str, ExportKindSpec] = {}


def register_export_kind(spec: ExportKindSpec) -> None:
    """Call from AppConfig.ready()."""
    _kinds[spec.kind] = spec


def export_kind(kind: str) -> ExportKindSpec:
    try:
        return _kinds[kind]
    except KeyError:
        raise LookupError(kind) from None


def export_runs_in_background(export: TabularExport) -> bool:
    """Too large to write inside the request (see STREAM_MAX_ROWS)?"""
    return export.count > STREAM_MAX_ROWS[export.fmt]


# --- who sees which jobs ----------------------------------------------------------------------


def can_export(user) -> bool:
    return staff_can(user, Action.EXPORT_DATA)


def can_see_every_export(user) -> bool:
    """Staff who may export and see full phones see every export, not only their own: a file holds at
    most what its requester's role could see, so none of them shows these staff anything new. Others
    (the marketer) see only their own: an HQ admin's export has the full phones they may not see."""
    return can_export(user) and sees_full_phones(user)


def may_see_export(user, job: ExportJob) -> bool:
    return can_export(user) and (job.created_by_id == user.pk or can_see_every_export(user))


def visible_export_jobs(user) -> QuerySet[ExportJob]:
    jobs = ExportJob.objects.all()
    if not can_export(user):
        return jobs.none()
    return jobs if can_see_every_export(user) else jobs.filter(created_by=user)


# --- the members selection, kept for the worker ------------------------------------------------
#
# The worker needs the members the request counted. The job keeps how they were selected as the
# parameters themselves, plain JSON (`ExportJob.selection`), never code or a pickled object: reading a
# job runs nothing it holds. Each source of a selection is registered by the app that owns it and
# rebuilt in the worker through the same code the page used, with the asker's role as it is then:
#
# - "member_list" (members.admin_exports): the members list's query string (filters and search) and
#   the ticked ids, through the admin's own changelist, so a job never holds more members than that
#   person's list would show;
# - "segment" (campaigns): the segment's rules, through members_matching.
#
# A selection whose source no app registered (a job asked for before this format, whose filter was a
# pickled Query) or whose parameters the source refuses fails with a message, and nothing is written.

_selections: dict[str, Callable[..., QuerySet[Member]]] = {}


def register_member_selection(source: str, resolve: Callable[..., QuerySet[Member]]) -> None:
    """`resolve(selection, actor=…)` → the members; ExportJobRefused for parameters it does not accept.
    Call from AppConfig.ready()."""
    _selections[source] = resolve


def member_selection(selection, *, actor) -> QuerySet[Member]:
    """The members a job's `selection` names, as `actor` may see them now."""
    source = selection.get("source") if isinstance(selection, dict) else None
    resolve = _selections.get(source) if isinstance(source, str) else None
    if resolve is None:
        raise ExportJobRefused(
            _("The export was asked for before the server was updated and cannot be written now: export it again.")
        )
    return resolve(selection, actor=actor)


# --- creating a job ---------------------------------------------------------------------------


@transaction.atomic
def export_job_create(
    *,
    actor,
    kind: str,
    export: TabularExport,
    selection: dict | None = None,
    filters: list[tuple[str, str]] | None = None,
    start=None,
    end=None,
    store=None,
    language: str = "zh-hans",
) -> ExportJob:
    """Record a prepared (checked, counted, audited) export as a job; start it once this commits.

    `export` is what the kind's prepare function handed back, so its audit row is the job's and no
    second one is written. Members give the `selection` of the members that were counted (its parameters,
    see member_selection) and the list's `filters` as the page showed them; the ledgers their days and
    store. `language` is the asker's, for the job's message.

    The prepare runs before this, outside its transaction: its count of maybe a million rows must not
    sit in a write transaction (on SQLite an IMMEDIATE one, holding the lock the tills write under).
    """
    require_staff_can(actor, Action.EXPORT_DATA)
    export_kind(kind)
    if selection is not None and selection.get("source") not in _selections:
        raise ValueError(f"no members selection source {selection.get('source')!r} is registered")
    job = ExportJob(
        created_by=actor,
        kind=ExportJob.Kind(kind),
        fmt=ExportJob.Format(export.fmt),
        headers=ExportJob.Headers(export.details["language"]),
        columns=list(export.details.get("columns", [])),
        full_phones=export.details["full_phones"],
        selection=selection,
        filters=[[str(title), str(value)] for title, value in filters or ()],
        start=start,
        end=end,
        store=store,
        total_rows=export.count,
        file_name=export.filename[:255],
        audit_entry_id=export.audit_id,
        language=language[:16],
        # The task should be taken by then; the sweeper sends it again otherwise.
        lease_until=lease_end(),
    )
    job.save()
    transaction.on_commit(partial(export_job_start, job.pk))
    return job


def export_job_start(job_id: int) -> None:
    if settings.BROKER_CONFIGURED:
        from members.tasks import run_export

        run_export.delay(job_id)
        return
    threading.Thread(target=_run_in_thread, args=(job_id,), name=f"export-{job_id}", daemon=True).start()


def _run_in_thread(job_id: int) -> None:
    try:
        export_job_run(job_id=job_id)
        # The embedded mode has no beat: old files go when new ones come, and the jobs a restart cut off
        # are run again.
        export_jobs_expire()
        export_jobs_sweep()
    finally:
        # This thread's database connection is its own; close it rather than leave it to the GC.
        connections.close_all()


# --- running a job ----------------------------------------------------------------------------


def progress_key(job_id: int) -> str:
    return f"members:export:{job_id}:progress"


def job_progress(job: ExportJob) -> dict:
    """What the job page shows: the job's state, and while it runs the rows written so far (the cache)."""
    live = cache.get(progress_key(job.pk)) or {}
    total = job.total_rows
    rows = job.rows_written if job.is_finished else live.get("rows", 0)
    if job.is_finished:
        percent = 100
    elif total:
        # The last percent is the file's end: an XLSX is zipped after its last row.
        percent = min(int(99 * rows / total), 99)
    else:
        percent = 0
    return {
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "finished": job.is_finished,
        "stalled": is_stalled(job, progress_key=progress_key(job.pk)),
        "phase": live.get("phase", "queued" if job.status == ExportJob.Status.QUEUED else ""),
        "percent": percent,
        "rows": rows,
        "total": total,
    }


class _Progress:
    """The on_chunk callback of TabularExport: counts the rows and tells the cache now and then."""

    def __init__(self, job_id: int, lease: Lease):
        self.key = progress_key(job_id)
        self.lease = lease
        self.rows = 0
        self.last = 0.0

    def report(self, phase: str) -> None:
        # Taken over by another run (this one was presumed dead): stop writing.
        self.lease.check()
        self.last = time.time()
        cache.set(self.key, {"phase": phase, "rows": self.rows, "at": self.last}, PROGRESS_TTL)

    def __call__(self, rows: int) -> None:
        self.rows += rows
        if time.time() - self.last >= PROGRESS_EVERY_SECONDS:
            self.report("writing")


def _write(job: ExportJob, export: TabularExport, progress: _Progress) -> tuple[str, int]:
    """Write the file into the default storage, whole or not at all; its storage name and size."""
    name = job.file.field.generate_filename(job, job.file_name)
    try:
        path = Path(default_storage.path(name))
    except NotImplementedError:
        path = None
    if path is not None:
        # A local storage: straight to its place, through a temporary file beside it that is renamed
        # at the end (write_to). Its mode is the storage's, as for any stored file: the web process
        # that serves it may run as another user than the worker.
        _make_folders(path.parent)
        export.write_to(path, on_chunk=progress)
        if default_storage.file_permissions_mode is not None:
            os.chmod(path, default_storage.file_permissions_mode)
        return name, path.stat().st_size
    # A remote storage (object store): written locally first, then stored in one piece.
    with tempfile.TemporaryDirectory(prefix="export-") as folder:
        local = Path(folder) / Path(name).name
        export.write_to(local, on_chunk=progress)
        with local.open("rb") as content:
            name = default_storage.save(name, File(content))
        return name, local.stat().st_size


def _make_folders(folder: Path) -> None:
    """The folders of a file in the local storage, with the storage's mode (0700: the files hold
    personal data), as the storage makes them for the files it saves itself."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for each in reversed(missing):
        each.mkdir(exist_ok=True)
        if default_storage.directory_permissions_mode is not None:
            os.chmod(each, default_storage.directory_permissions_mode)


def export_job_run(*, job_id: int) -> ExportJob | None:
    """Write a queued job's file and record the outcome; safe to call twice, or on two workers."""
    job = ExportJob.objects.select_related("created_by", "store").filter(pk=job_id).first()
    if job is None or job.is_finished:
        return job
    lease = lease_claim(ExportJob, job.pk, progress_key=progress_key(job.pk))
    if lease is None:
        return job
    progress = _Progress(job.pk, lease)
    with lease, translation.override(job.language):
        try:
            progress.report("starting")
            outcome = _outcome(job, progress)
        except LeaseLost:
            return ExportJob.objects.filter(pk=job.pk).first()
    outcome["finished_at"] = timezone.now()
    # Recorded only if the job is still this run's: a run that was presumed dead and overtaken by
    # another must not replace that one's file.
    if not lease.record(**outcome):
        if outcome.get("file"):
            default_storage.delete(outcome["file"])
        return ExportJob.objects.filter(pk=job.pk).first()
    cache.set(progress.key, {"phase": "done", "rows": progress.rows, "at": time.time()}, PROGRESS_TTL)
    job.refresh_from_db()
    return job


def _outcome(job: ExportJob, progress: _Progress) -> dict:
    """Write the job's file; what to record on the job."""
    actor = job.created_by
    try:
        # The role of whoever asked, as it is now: one who lost the right to export gets no file, and
        # one who may no longer see full phones gets them masked.
        if not staff_can(actor, Action.EXPORT_DATA):
            raise ExportJobRefused(_("Your role no longer allows exports."))
        full_phones = job.full_phones and sees_full_phones(actor)
        export = export_kind(job.kind).rebuild(job, full_phones=full_phones)
        name, size = _write(job, export, progress)
    except LeaseLost:
        raise
    except ExportJobRefused as error:
        return {"status": ExportJob.Status.FAILED, "message": error.message}
    except Exception:
        logger.exception("export job %s failed", job.pk)
        return {"status": ExportJob.Status.FAILED, "message": _("The export failed unexpectedly: export it again.")}
    return {"status": ExportJob.Status.DONE, "file": name, "file_size": size, "rows_written": progress.rows}


# --- jobs nobody works on ----------------------------------------------------------------------


def _given_up(job: ExportJob) -> str:
    with translation.override(job.language):
        return ngettext(
            "The export was cut off %(attempts)d time before it finished (its worker stopped) and was given up; "
            "no file was written. Run it again once the cause is found.",
            "The export was cut off %(attempts)d times before it finished (its worker stopped) and was given up; "
            "no file was written. Run it again once the cause is found.",
            job.attempts,
        ) % {"attempts": job.attempts}


def export_jobs_sweep(*, now=None) -> dict[str, int]:
    """Run again the exports nobody works on, or give them up (members.job_leases)."""
    return lease_sweep(ExportJob, start=export_job_start, progress_key=progress_key, given_up=_given_up, now=now)


def export_job_is_stalled(job: ExportJob) -> bool:
    return is_stalled(job, progress_key=progress_key(job.pk))


def export_job_may_retry(job: ExportJob) -> bool:
    return job.status == ExportJob.Status.FAILED or export_job_is_stalled(job)


@transaction.atomic
def export_job_retry(*, actor, job: ExportJob) -> ExportJob:
    """Write a failed or stalled export again, with the role of whoever asked for it; audited."""
    if not may_see_export(actor, job):
        raise PermissionDenied
    job = ExportJob.objects.select_for_update().get(pk=job.pk)
    if not export_job_may_retry(job):
        raise ValidationError(
            _("Only an export that failed, or that stopped without finishing, can be run again."),
            code="job_not_retryable",
        )
    before = {"status": job.status, "attempts": job.attempts, "message": job.message, "worker": job.worker}
    retried = ExportJob.objects.filter(pk=job.pk, status=job.status, worker=job.worker).update(
        status=ExportJob.Status.QUEUED, attempts=0, worker="", message="", finished_at=None, lease_until=lease_end()
    )
    if not retried:
        raise ValidationError(_("The export changed meanwhile; look at it again."), code="job_changed")
    audit_record(actor=actor, action=EXPORT_RETRIED, target=job, data={"file": job.file_name, "before": before})
    transaction.on_commit(partial(export_job_start, job.pk))
    job.refresh_from_db()
    return job


# --- old files --------------------------------------------------------------------------------


def export_jobs_expire(*, days: int | None = None, now=None) -> dict[str, int]:
    """Delete the files of exports finished more than `days` days ago (PII_FILE_RETENTION_DAYS by
    default) and mark their jobs expired.

    The jobs stay (who exported what, and when, is worth keeping; the audit row has it too), their
    files go. Also deletes temporary files that a worker killed mid-write left behind. Safe to run
    twice, or on two workers: a job is marked only by the run that finds it still done.
    """
    days = settings.PII_FILE_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    expired = 0
    old = ExportJob.objects.filter(status=ExportJob.Status.DONE, finished_at__lt=cutoff).only("pk", "file")
    for job in old.iterator():
        # The row first: once it says expired, no download tries the file.
        if ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.DONE).update(
            status=ExportJob.Status.EXPIRED, file=""
        ):
            expired += 1
            if job.file.name:
                default_storage.delete(job.file.name)
    return {"expired": expired, "partial_files": _delete_partial_files(cutoff)}


def _delete_partial_files(cutoff) -> int:
    """Temporary files (TabularExport.write_to's .partial) older than `cutoff` in a local storage."""
    try:
        root = Path(default_storage.path("exports"))
    except NotImplementedError:
        return 0  # remote storages only ever get whole files
    if not root.is_dir():
        return 0
    deleted = 0
    for path in root.rglob(".*.partial"):
        try:
            if path.stat().st_mtime < cutoff.timestamp():
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            pass
    return deleted


# --- the members kind -------------------------------------------------------------------------


def member_export_rebuild(job: ExportJob, *, full_phones: bool) -> TabularExport:
    """The members export of a job: the members of its kept filter, its columns and headers."""
    try:
        columns = resolve_member_export_columns(job.columns)
    except ValidationError as error:
        raise ExportJobRefused(" ".join(error.messages)) from None
    return member_export_build(
        queryset=member_selection(job.selection, actor=job.created_by),
        columns=columns,
        fmt=job.fmt,
        language=job.headers,
        full_phones=full_phones,
        count=job.total_rows,
        audit_id=job.audit_entry_id,
    )
