"""Imports and exports whose worker dies run again: a lease and a heartbeat in the database, a sweeper,
and a "run again" in the back office (members.job_leases). No test sleeps: the leases' times are moved."""

import importlib
import time
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config import celery_app
from members import export_jobs
from members.exports import member_export_prepare
from members.imports import jobs as import_jobs
from members.job_leases import Lease, LeaseLost, lease_claim
from members.models import ExportJob, ImportJob, Member
from stores.models import AuditEntry
from tests.conftest import postgres_only
from tests.export_helpers import csv_dicts
from tests.factories import MemberFactory
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db

DEAD = "dead-host:4242:0badf00d"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.JOB_LEASE_SECONDS = 600
    settings.JOB_MAX_ATTEMPTS = 3
    cache.clear()


@pytest.fixture
def not_started(monkeypatch):
    """Jobs are created without their task; what would have been started is listed."""
    started = []
    monkeypatch.setattr(import_jobs, "import_job_start", started.append)
    monkeypatch.setattr(export_jobs, "export_job_start", started.append)
    return started


def an_import(chain, tmp_path, rows: int = 3) -> ImportJob:
    path = write_csv(tmp_path / "m.csv", [[f"1381234{i:04d}", "王芳", *[""] * 9] for i in range(rows)])
    return import_jobs.import_job_create(
        actor=chain.hq_admin,
        upload=SimpleUploadedFile("m.csv", path.read_bytes()),
        mode="all_or_nothing",
        dry_run=False,
        language="en",
    )


def an_export(chain, actor=None) -> ExportJob:
    actor = actor or chain.hq_admin
    export = member_export_prepare(
        actor=actor, queryset=Member.objects.all(), columns=["name", "phone"], fmt="csv", language="en"
    )
    return export_jobs.export_job_create(
        actor=actor,
        kind=ExportJob.Kind.MEMBERS,
        export=export,
        selection={"source": "member_list", "query": "", "ids": None},
        language="en",
    )


def worker_died(job, *, minutes_ago: int = 1, attempts: int = 1) -> None:
    """As a run whose worker was killed leaves its job: running, its lease run out a while ago."""
    now = timezone.now()
    type(job).objects.filter(pk=job.pk).update(
        status="running",
        worker=DEAD,
        attempts=attempts,
        started_at=now - timedelta(minutes=30),
        heartbeat_at=now - timedelta(minutes=10 + minutes_ago),
        lease_until=now - timedelta(minutes=minutes_ago),
    )


# --- the sweeper ------------------------------------------------------------------------------


def test_an_import_whose_worker_died_is_run_again_by_the_sweeper_and_completes(chain, tmp_path, not_started):
    job = an_import(chain, tmp_path)
    worker_died(job)

    swept = import_jobs.import_jobs_sweep()

    assert swept == {"requeued": 1, "failed": 0, "resent": 0}
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("queued", 1) and job.lease_until > timezone.now()
    assert not_started == [job.pk]  # by the sweeper (the test's transaction never commits the creation's)
    # The task it was given runs the import from the start, under a lease of its own
    job = import_jobs.import_job_run(job_id=job.pk)
    assert (job.status, job.attempts, job.created_count, job.lease_until) == ("done", 2, 3, None)
    assert job.worker not in ("", DEAD)
    assert Member.objects.count() == 3


def test_an_export_whose_worker_died_is_run_again_by_the_sweeper_through_celery(chain, celery_broker, not_started):
    MemberFactory(phone="13800138000", name="王芳")
    job = an_export(chain)
    worker_died(job)
    not_started.clear()

    swept = export_jobs.export_jobs_sweep(now=timezone.now())

    assert swept["requeued"] == 1
    assert not_started == [job.pk]
    from members.tasks import run_export

    run_export.apply(args=[job.pk])  # the task the sweeper sent
    job.refresh_from_db()
    assert (job.status, job.rows_written, job.attempts) == ("done", 1, 2)


def test_after_its_last_attempt_a_job_is_given_up_with_a_message(chain, tmp_path, not_started):
    imported, exported = an_import(chain, tmp_path), an_export(chain)
    for job in (imported, exported):
        worker_died(job, attempts=3)
    not_started.clear()

    assert import_jobs.import_jobs_sweep()["failed"] == 1
    assert export_jobs.export_jobs_sweep()["failed"] == 1

    imported.refresh_from_db()
    exported.refresh_from_db()
    assert (imported.status, imported.lease_until, imported.finished_at is not None) == ("failed", None, True)
    assert imported.message == (
        "The import was cut off 3 times before it finished (its worker stopped) and was given up; nothing was "
        "written. Run it again once the cause is found."
    )
    assert exported.status == "failed" and "no file was written" in exported.message
    assert not_started == []
    assert Member.objects.count() == 0


def test_the_message_is_in_the_language_of_whoever_asked(chain, tmp_path, not_started):
    job = an_import(chain, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(language="zh-hans")
    worker_died(job, attempts=3)

    import_jobs.import_jobs_sweep()

    job.refresh_from_db()
    assert job.message.startswith("导入")


def test_the_sweeper_leaves_alone_the_jobs_someone_works_on(chain, tmp_path, not_started):
    live = an_import(chain, tmp_path)
    worker_died(live)
    ImportJob.objects.filter(pk=live.pk).update(lease_until=timezone.now() + timedelta(minutes=5))
    # Its lease ran out, but its progress still moves: on SQLite the import holds the one write lock,
    # and its heartbeats wait for it.
    busy = an_import(chain, tmp_path)
    worker_died(busy)
    cache.set(import_jobs.progress_key(busy.pk), {"phase": "reading", "at": time.time()})
    finished = an_import(chain, tmp_path)
    ImportJob.objects.filter(pk=finished.pk).update(
        status="done", started_at=timezone.now(), finished_at=timezone.now(), lease_until=None
    )
    waiting = an_import(chain, tmp_path)  # its task was sent a moment ago
    not_started.clear()

    assert import_jobs.import_jobs_sweep() == {"requeued": 0, "failed": 0, "resent": 0}
    assert not_started == []
    assert ImportJob.objects.get(pk=waiting.pk).status == "queued"


def test_a_waiting_job_whose_task_was_lost_gets_it_again_once_per_lease(chain, tmp_path, not_started):
    job = an_import(chain, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    not_started.clear()

    assert import_jobs.import_jobs_sweep()["resent"] == 1
    assert import_jobs.import_jobs_sweep()["resent"] == 0  # its lease was renewed with the message
    assert not_started == [job.pk]
    in_a_lease = timezone.now() + timedelta(seconds=601)
    assert import_jobs.import_jobs_sweep(now=in_a_lease)["resent"] == 1


def test_the_sweeper_is_a_celery_task_beat_runs_every_minute(chain, tmp_path, not_started):
    task = PeriodicTask.objects.select_related("interval").get(task="members.tasks.sweep_jobs")
    assert (task.interval.every, task.interval.period, task.enabled) == (1, "minutes", True)
    celery_app.loader.import_default_modules()
    sweep = celery_app.tasks["members.tasks.sweep_jobs"]
    assert sweep.acks_late
    worker_died(an_import(chain, tmp_path))

    summary = sweep.apply().get()

    assert summary["imports"]["requeued"] == 1 and summary["exports"] == {"requeued": 0, "failed": 0, "resent": 0}


def test_the_schedule_migration_applies_twice_and_reverses(db):
    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule

    migration = importlib.import_module("members.migrations.0010_job_sweeper_task")
    intervals = IntervalSchedule.objects.count()
    migration.create_periodic_task(apps, None)
    migration.create_periodic_task(apps, None)
    assert PeriodicTask.objects.filter(name=migration.NAME).count() == 1
    assert IntervalSchedule.objects.count() == intervals
    migration.delete_periodic_task(apps, None)
    assert not PeriodicTask.objects.filter(name=migration.NAME).exists()


# --- a task delivered again -------------------------------------------------------------------


def test_a_task_delivered_again_while_the_lease_is_live_does_nothing(chain, tmp_path, not_started):
    from members.tasks import run_member_import

    job = an_import(chain, tmp_path)
    worker_died(job)
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() + timedelta(minutes=5))

    assert run_member_import.apply(args=[job.pk]).get() == {"job": job.pk, "status": "running"}

    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == ("running", DEAD, 1)
    assert Member.objects.count() == 0


def test_a_task_delivered_again_after_the_lease_ran_out_takes_the_job_over(chain, tmp_path, not_started):
    """The dead worker's last progress report does not hold the job once it is older than a lease."""
    from members.tasks import run_member_import

    job = an_import(chain, tmp_path)
    worker_died(job)
    cache.set(import_jobs.progress_key(job.pk), {"phase": "reading", "rows": 2, "at": time.time() - 601})

    assert run_member_import.apply(args=[job.pk]).get() == {"job": job.pk, "status": "done"}

    job.refresh_from_db()
    assert (job.status, job.attempts, job.created_count) == ("done", 2, 3)


def test_one_lease_at_a_time(chain, tmp_path, not_started):
    job = an_import(chain, tmp_path)
    key = import_jobs.progress_key(job.pk)

    first = lease_claim(ImportJob, job.pk, progress_key=key)
    second = lease_claim(ImportJob, job.pk, progress_key=key)

    assert first is not None and second is None
    later = timezone.now() + timedelta(seconds=601)
    third = lease_claim(ImportJob, job.pk, progress_key=key, now=later)
    assert third is not None and third.worker != first.worker
    assert first.record(status="done", finished_at=later) is False  # overtaken: records nothing
    assert ImportJob.objects.get(pk=job.pk).attempts == 2


# --- the heartbeat ----------------------------------------------------------------------------


def test_a_heartbeat_renews_the_lease_until_another_run_takes_the_job(chain, tmp_path, not_started):
    job = an_import(chain, tmp_path)
    lease = lease_claim(ImportJob, job.pk, progress_key=import_jobs.progress_key(job.pk))
    later = timezone.now() + timedelta(minutes=7)

    assert lease.beat(now=later) is True

    job.refresh_from_db()
    assert (job.heartbeat_at, job.lease_until) == (later, later + timedelta(seconds=600))
    ImportJob.objects.filter(pk=job.pk).update(worker="another:1:x")
    assert lease.beat() is False
    with pytest.raises(LeaseLost):
        lease.check()


def test_an_import_taken_over_midway_writes_nothing_and_records_nothing(chain, tmp_path, monkeypatch, not_started):
    job = an_import(chain, tmp_path, rows=30)
    report = import_jobs._Progress.__call__

    def and_meanwhile_another_run_takes_over(self, progress):
        if progress.phase == "checking":
            ImportJob.objects.filter(pk=job.pk).update(worker="another:1:x")
            self.lease.beat()  # what the heartbeat thread would have found
        report(self, progress)

    monkeypatch.setattr(import_jobs._Progress, "__call__", and_meanwhile_another_run_takes_over)

    job = import_jobs.import_job_run(job_id=job.pk)

    # (The takeover was written on the import's own connection here, so its rollback undid it too.)
    assert (job.status, job.created_count, job.finished_at) == ("running", 0, None)
    assert Member.objects.count() == 0


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_is_seen_by_others_while_the_import_holds_its_transaction(
    chain, tmp_path, monkeypatch, settings, not_started
):
    """The beats are written on a connection of their own: the import's transaction, open for the whole
    import, would hide them (and a long set-based statement sends no progress at all)."""
    settings.JOB_HEARTBEAT_SECONDS = 0.01
    job = an_import(chain, tmp_path, rows=30)
    seen = []
    report = import_jobs._Progress.__call__

    def and_look_from_the_import(self, progress):
        report(self, progress)
        if progress.phase == "checking":
            assert connection.in_atomic_block
            assert self.lease.beaten.wait(timeout=60), "no heartbeat was written"
            # Read committed: the import's own transaction sees what the heartbeat committed.
            seen.append(ImportJob.objects.values_list("heartbeat_at", flat=True).get(pk=job.pk))

    monkeypatch.setattr(import_jobs._Progress, "__call__", and_look_from_the_import)

    job = import_jobs.import_job_run(job_id=job.pk)

    # Later than the claim, which set both: a beat the import's own transaction saw.
    assert job.status == "done" and seen and seen[0] > job.started_at


def test_the_heartbeat_thread_stops_with_the_run(chain, tmp_path, not_started):
    job = an_import(chain, tmp_path)
    lease = lease_claim(ImportJob, job.pk, progress_key=import_jobs.progress_key(job.pk))
    with lease:
        assert lease._thread.is_alive()
    assert not lease._thread.is_alive()
    assert isinstance(lease, Lease)


# --- run again from the back office -----------------------------------------------------------


def test_the_hq_admin_runs_a_failed_import_again_from_its_page(
    client, chain, tmp_path, not_started, django_capture_on_commit_callbacks
):
    job = an_import(chain, tmp_path)
    ImportJob.objects.filter(pk=job.pk).update(
        status="failed", message="The import failed unexpectedly; nothing was written.", attempts=1,
        started_at=timezone.now(), finished_at=timezone.now(), worker=DEAD,
    )  # fmt: skip
    client.force_login(chain.hq_admin)
    page = client.get(reverse("admin:members_importjob_change", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert 'id="job-retry-button"' in page.content.decode()
    not_started.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:members_importjob_retry", args=[job.pk]))

    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:members_importjob_change", args=[job.pk]
    )
    job.refresh_from_db()
    assert (job.status, job.attempts, job.message, job.finished_at) == ("queued", 0, "", None)
    assert not_started == [job.pk]
    entry = AuditEntry.objects.get(action=import_jobs.IMPORT_RETRIED)
    assert (entry.actor, entry.target_id, entry.data["before"]["status"]) == (chain.hq_admin, str(job.pk), "failed")
    assert import_jobs.import_job_run(job_id=job.pk).status == "done"


def test_a_stalled_export_says_so_and_runs_again_from_its_page(
    client, chain, not_started, django_capture_on_commit_callbacks
):
    MemberFactory(phone="13800138000", name="王芳")
    job = an_export(chain, actor=chain.marketer)
    worker_died(job, minutes_ago=3)
    client.force_login(chain.marketer)
    url = reverse("admin:members_exportjob_change", args=[job.pk])

    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    progress = client.get(reverse("admin:members_exportjob_progress", args=[job.pk])).json()

    assert 'id="job-stalled"' in page and "Nobody is working on this job any more" in page
    assert 'id="export-progress"' not in page and progress["stalled"] is True
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:members_exportjob_retry", args=[job.pk]))
    job = export_jobs.export_job_run(job_id=job.pk)
    assert (job.status, job.rows_written) == ("done", 1)
    assert csv_dicts(b"".join(client.get(reverse("admin:members_exportjob_download", args=[job.pk]))))[0] == {
        "name": "王芳",
        "phone": "138****8000",
    }
    assert AuditEntry.objects.filter(action=export_jobs.EXPORT_RETRIED, actor=chain.marketer).count() == 1


def test_a_job_someone_works_on_or_that_ended_well_is_not_run_again(client, chain, tmp_path, not_started):
    live, done = an_import(chain, tmp_path), an_import(chain, tmp_path)
    worker_died(live)
    ImportJob.objects.filter(pk=live.pk).update(lease_until=timezone.now() + timedelta(minutes=5))
    ImportJob.objects.filter(pk=done.pk).update(
        status="done", started_at=timezone.now(), finished_at=timezone.now(), lease_until=None
    )
    client.force_login(chain.hq_admin)

    for job in (live, done):
        page = client.get(reverse("admin:members_importjob_change", args=[job.pk])).content.decode()
        assert "job-retry-button" not in page
    for job in (live, done):
        response = client.post(reverse("admin:members_importjob_retry", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 302
    assert ImportJob.objects.get(pk=live.pk).worker == DEAD
    assert ImportJob.objects.get(pk=done.pk).status == "done"
    assert not AuditEntry.objects.filter(action=import_jobs.IMPORT_RETRIED).exists()
    messages = [str(m) for m in client.get(reverse("admin:members_importjob_changelist")).context["messages"]]
    assert messages == ["Only an import that failed, or that stopped without finishing, can be run again."] * 2


def test_only_whoever_may_see_an_export_runs_it_again(client, chain, not_started):
    job = an_export(chain, actor=chain.hq_admin)  # its file would have the full phones
    worker_died(job)
    client.force_login(chain.marketer)

    assert client.post(reverse("admin:members_exportjob_retry", args=[job.pk])).status_code == 403
    assert client.get(reverse("admin:members_exportjob_retry", args=[job.pk])).status_code in (403, 405)
    client.force_login(chain.cashier_a)
    assert client.post(reverse("admin:members_exportjob_retry", args=[job.pk])).status_code == 302  # to the login
    assert ExportJob.objects.get(pk=job.pk).worker == DEAD


def test_the_lists_action_runs_the_failed_and_stalled_jobs_again(client, chain, tmp_path, not_started):
    failed, stalled, done = an_import(chain, tmp_path), an_import(chain, tmp_path), an_import(chain, tmp_path)
    now = timezone.now()
    ImportJob.objects.filter(pk=failed.pk).update(status="failed", started_at=now, finished_at=now)
    worker_died(stalled)
    ImportJob.objects.filter(pk=done.pk).update(status="done", started_at=now, finished_at=now, lease_until=None)
    client.force_login(chain.hq_admin)

    response = client.post(
        reverse("admin:members_importjob_changelist"),
        {"action": "run_again", "_selected_action": [failed.pk, stalled.pk, done.pk]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]] == [
        "2 jobs run again.",
        "1 job was left as it is: only failed or stopped jobs run again.",
    ]
    assert dict(ImportJob.objects.values_list("pk", "status")) == {
        failed.pk: "queued",
        stalled.pk: "queued",
        done.pk: "done",
    }
    assert AuditEntry.objects.filter(action=import_jobs.IMPORT_RETRIED).count() == 2


# --- the broker -------------------------------------------------------------------------------


def test_the_visibility_timeout_is_set_and_outlasts_every_retry_countdown(settings):
    """A task delivered but not acknowledged comes back after the visibility timeout: longer than any
    retry's countdown, or a delayed retry is delivered twice."""
    celery_app.loader.import_default_modules()
    timeout = celery_app.conf.broker_transport_options["visibility_timeout"]
    assert timeout == settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] == 3600
    longest_countdown = max(
        getattr(task, "retry_backoff_max", 600)
        for name, task in celery_app.tasks.items()
        if not name.startswith("celery.")
    )
    assert timeout > longest_countdown
    assert celery_app.conf.task_reject_on_worker_lost and celery_app.conf.task_acks_late
    for name in ("members.tasks.run_member_import", "members.tasks.run_export"):
        assert celery_app.tasks[name].time_limit > 3600


def test_the_embedded_mode_sweeps_when_a_jobs_thread_ends(monkeypatch):
    """No beat runs in the embedded mode: the jobs a restart of the server cut off run again after the next."""
    done = []
    monkeypatch.setattr(import_jobs, "import_job_run", lambda job_id: done.append(("import", job_id)))
    monkeypatch.setattr(import_jobs, "import_jobs_sweep", lambda: done.append("sweep imports"))
    monkeypatch.setattr(export_jobs, "export_job_run", lambda job_id: done.append(("export", job_id)))
    monkeypatch.setattr(export_jobs, "export_jobs_expire", lambda: None)
    monkeypatch.setattr(export_jobs, "export_jobs_sweep", lambda: done.append("sweep exports"))

    import_jobs._run_in_thread(7)
    export_jobs._run_in_thread(8)

    assert done == [("import", 7), "sweep imports", ("export", 8), "sweep exports"]
