"""Leases of the background jobs (imports and exports): who runs a job, until when, and what happens
when that worker dies.

A worker killed in the middle of a job (a deploy, the kernel's OOM killer, kill -9) used to leave it
"running" for ever. Now a job (ImportJob, ExportJob) is run by one run at a time, the one holding its
lease in the database:

- lease_claim() takes a job that is waiting, or running under a lease that ran out (its worker died),
  in one conditional UPDATE whose row count says whether this run has it. The job records the run
  (`worker`: host, process and a random part, so each run has its own), the attempt and `lease_until`.
  A task delivered again while the lease is live (the broker's redelivery, a second message) changes
  nothing and returns.
- While the run works, a heartbeat thread renews the lease every JOB_HEARTBEAT_SECONDS on a database
  connection of its own. Not the progress reports: an import runs in one long transaction, whose writes
  nobody sees before it ends, and its set-based statements run for minutes between two reports. A run
  whose lease was taken over stops at its next progress report (an import's transaction is rolled
  back), and only the run still holding the lease records the outcome (Lease.record()).
- jobs_sweep() (members.tasks.sweep_jobs, every minute: migration members 0009) puts a running job whose
  lease ran out back in the queue, until it was tried JOB_MAX_ATTEMPTS times, then fails it with a
  message; a waiting job whose task nobody took (the broker lost it, or was down when it was sent) gets
  its task again. The embedded mode has no beat: it sweeps when a job's thread ends.
- The back office runs a failed or stalled job again (the kinds' retry services, audited).

Running a job again from its start is safe: an import's writes, its staging tables included, die with
its transaction, whichever its mode; an export writes its file whole or not at all.

A job is presumed dead only when its lease ran out and its live progress (Django's cache, which the
runs write every half second) has not moved for as long either: on SQLite the import holds the one
write lock, so its heartbeats wait until it ends.
"""

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connections
from django.db.models import F, Model, Q
from django.utils import timezone

logger = logging.getLogger(__name__)

QUEUED, RUNNING, FAILED = "queued", "running", "failed"


class LeaseLost(Exception):
    """Another run took this run's job over (this one was presumed dead): stop, record nothing."""


def lease_seconds() -> int:
    return settings.JOB_LEASE_SECONDS


def max_attempts() -> int:
    return settings.JOB_MAX_ATTEMPTS


def lease_end(now=None):
    return (now or timezone.now()) + timedelta(seconds=lease_seconds())


def progress_moving(progress_key: str) -> bool:
    """Did the job's live progress (the cache) move within a lease?"""
    live = cache.get(progress_key)
    return live is not None and time.time() - live.get("at", 0) < lease_seconds()


def _run_name() -> str:
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


class Lease:
    """One run's hold on one job. Use as a context manager: the heartbeat thread beats inside it."""

    def __init__(self, model: type[Model], job_id: int, worker: str):
        self.model = model
        self.job_id = job_id
        self.worker = worker
        self.lost = False
        self.beats = 0
        self.beaten = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "Lease":
        name = f"lease-{self.model._meta.model_name}-{self.job_id}"
        self._thread = threading.Thread(target=self._beat_until_stopped, name=name, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        # A beat may be waiting for SQLite's write lock; the thread ends on its own after it.
        self._thread.join(timeout=5)

    def _beat_until_stopped(self) -> None:
        try:
            while not self._stop.wait(settings.JOB_HEARTBEAT_SECONDS):
                if not self.beat():
                    return
        finally:
            connections.close_all()  # this thread's own connection

    def _mine(self):
        return self.model.objects.filter(pk=self.job_id, status=RUNNING, worker=self.worker)

    def beat(self, *, now=None) -> bool:
        """Renew the lease; False once another run holds the job."""
        now = now or timezone.now()
        try:
            renewed = self._mine().update(heartbeat_at=now, lease_until=lease_end(now))
        except DatabaseError as error:
            # The database is away, or SQLite's write lock is the import's until it ends: next time.
            logger.info("job %s %s: heartbeat not written (%s)", self.model._meta.label, self.job_id, error)
            return True
        if not renewed:
            self.lost = True
            logger.warning("job %s %s: taken over by another run", self.model._meta.label, self.job_id)
            return False
        self.beats += 1
        self.beaten.set()
        return True

    def check(self) -> None:
        """Raise LeaseLost once the job was taken over; the progress reports call it."""
        if self.lost:
            raise LeaseLost

    def record(self, **outcome) -> bool:
        """Write the outcome if the job is still this run's; the lease ends with it."""
        return bool(self._mine().update(**outcome, lease_until=None))


def lease_claim(model: type[Model], job_id: int, *, progress_key: str, now=None) -> Lease | None:
    """This run's lease of the job, or None: finished, held by a live run, or tried too often."""
    now = now or timezone.now()
    if model.objects.filter(pk=job_id, status=RUNNING).exists() and progress_moving(progress_key):
        return None
    worker = _run_name()
    free = Q(status=QUEUED) | Q(status=RUNNING, lease_until__lt=now)
    claimed = model.objects.filter(free, pk=job_id, attempts__lt=max_attempts()).update(
        status=RUNNING,
        worker=worker,
        attempts=F("attempts") + 1,
        started_at=now,
        heartbeat_at=now,
        lease_until=lease_end(now),
    )
    return Lease(model, job_id, worker) if claimed else None


def is_stalled(job, *, progress_key: str, now=None) -> bool:
    """Waiting or running, but nobody works on it: its lease ran out and its progress stopped."""
    now = now or timezone.now()
    if job.status not in (QUEUED, RUNNING):
        return False
    if job.status == QUEUED and job.lease_until is None:
        due = job.created_at + timedelta(seconds=lease_seconds())
    else:
        due = job.lease_until
    return due is not None and due < now and not progress_moving(progress_key)


def lease_sweep(
    model: type[Model],
    *,
    start: Callable[[int], None],
    progress_key: Callable[[int], str],
    given_up: Callable[[Model], str],
    now=None,
) -> dict[str, int]:
    """Run again the jobs of `model` nobody works on (see the module's docstring); what was done."""
    now = now or timezone.now()
    done = {"requeued": 0, "failed": 0, "resent": 0}
    stale = model.objects.filter(status=RUNNING, lease_until__lt=now).only("pk", "attempts", "worker", "language")
    for job in stale:
        if progress_moving(progress_key(job.pk)):
            continue
        still_stale = model.objects.filter(pk=job.pk, status=RUNNING, worker=job.worker, lease_until__lt=now)
        if job.attempts >= max_attempts():
            if still_stale.update(status=FAILED, message=given_up(job), finished_at=now, lease_until=None):
                done["failed"] += 1
        elif still_stale.update(status=QUEUED, lease_until=lease_end(now)):
            start(job.pk)
            done["requeued"] += 1
    due = Q(lease_until__lt=now) | Q(lease_until__isnull=True, created_at__lt=now - timedelta(seconds=lease_seconds()))
    for pk in model.objects.filter(due, status=QUEUED).values_list("pk", flat=True):
        # Its lease is renewed first: one more message per lease at most, whoever else sweeps.
        if model.objects.filter(due, pk=pk, status=QUEUED).update(lease_until=lease_end(now)):
            start(pk)
            done["resent"] += 1
    return done
