"""Large exports from the back office: a job written in the background, its page, its download, its end."""

import os
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config import celery_app
from members import export_jobs
from members.exports import MEMBERS_EXPORTED, member_export_prepare
from members.models import ExportJob, Member
from stores.models import AuditEntry
from stores.services import staff_set_role
from tests.admin_helpers import admin_search_url
from tests.export_helpers import csv_dicts, streamed, xlsx_dicts
from tests.factories import MemberFactory

pytestmark = pytest.mark.django_db

EXPORT = reverse("admin:members_member_export")
JOBS = reverse("admin:members_exportjob_changelist")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


@pytest.fixture
def small_limits(monkeypatch):
    """Exports of more than 2 rows (CSV) or 1 row (XLSX) go to a job, as a million would."""
    monkeypatch.setattr(export_jobs, "STREAM_MAX_ROWS", {"csv": 2, "xlsx": 1})


@pytest.fixture
def members(chain):
    return [
        MemberFactory(phone="13812340000", name="王芳", home_store=chain.store_a),
        MemberFactory(phone="13812340001", name="王小明", home_store=chain.store_a),
        MemberFactory(phone="13812340002", name="李娜", home_store=chain.store_b),
        MemberFactory(phone="13900001111", name="张伟", home_store=chain.store_b),
    ]


def post_export(client, query: str = "", **form):
    data = {"columns": ["member_code", "name", "phone", "store_code"], "fmt": "csv", "headers": "zh", **form}
    return client.post(f"{EXPORT}?{query}" if query else EXPORT, data)


def job_url(job, name="change"):
    return reverse(f"admin:members_exportjob_{name}", args=[job.pk])


def export_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "exports"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def downloaded(client, job) -> bytes:
    response = client.get(job_url(job, "download"))
    assert response.status_code == 200
    return b"".join(response.streaming_content)


EVERY_MEMBER = {"source": "member_list", "query": "", "ids": None}


def make_job(chain, actor=None, fmt="csv", selection=None) -> ExportJob:
    """A members export of every member (name, phone; English headers) as a job, not started."""
    actor = actor or chain.hq_admin
    queryset = Member.objects.all()
    export = member_export_prepare(actor=actor, queryset=queryset, columns=["name", "phone"], fmt=fmt, language="en")
    return export_jobs.export_job_create(
        actor=actor, kind=ExportJob.Kind.MEMBERS, export=export, selection=selection or EVERY_MEMBER, language="en"
    )


# --- the way through: ask, wait, download -----------------------------------------------------


def test_a_large_export_goes_to_a_job_whose_page_shows_progress_then_the_download(
    client, chain, members, small_limits, django_capture_on_commit_callbacks, celery_broker, settings
):
    # Given a marketer (phones masked) exporting the list filtered to store B, larger than the limit
    client.force_login(chain.marketer)
    Member.objects.filter(pk=members[3].pk).update(home_store=chain.store_a)
    MemberFactory(phone="13812349999", name="赵敏", home_store=chain.store_b)
    MemberFactory(phone="13812348888", name="钱进", home_store=chain.store_b)

    # When the form is sent (and before the transaction's callbacks have started the job)
    with django_capture_on_commit_callbacks() as callbacks:
        response = post_export(client, f"home_store__id__exact={chain.store_b.pk}")

    # Then the browser goes to the job's page, which shows a progress bar
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.status, job.kind, job.created_by, job.total_rows, job.full_phones) == (
        "queued",
        "members",
        chain.marketer,
        3,
        False,
    )
    page = client.get(job_url(job)).content.decode()
    assert 'id="export-progress"' in page and "<progress" in page and "export-download" not in page
    assert "SH001" not in page and "BJ001" in page  # the list's filter, as the export page named it
    assert client.get(job_url(job, "progress")).json() == {
        "status": "queued",
        "status_label": "Waiting to start",
        "finished": False,
        "stalled": False,
        "phase": "queued",
        "percent": 0,
        "rows": 0,
        "total": 3,
    }

    # When the transaction's callback starts it (a Celery task, run eagerly here)
    for callback in callbacks:
        callback()

    # Then the page has the download link and the row count, and the file the rows, phones masked
    job.refresh_from_db()
    assert (job.status, job.rows_written) == ("done", 3)
    assert job.started_at <= job.finished_at
    page = client.get(job_url(job)).content.decode()
    assert f'href="{job_url(job, "download")}"' in page and 'id="export-rows">3<' in page
    assert 'id="export-progress"' not in page
    response = client.get(job_url(job, "download"))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{job.file_name}"'
    assert job.file_name.startswith("members-") and job.file_name.endswith(".csv")
    rows = csv_dicts(b"".join(response.streaming_content))
    assert sorted((r["姓名"], r["手机号"], r["门店编码"]) for r in rows) == [
        ("李娜", "138****0002", "BJ001"),
        ("赵敏", "138****9999", "BJ001"),
        ("钱进", "138****8888", "BJ001"),
    ]
    # One audit row, as for an export streamed at once, with the same details
    (entry,) = AuditEntry.objects.filter(action=MEMBERS_EXPORTED)
    assert entry.actor == chain.marketer and job.audit_entry == entry
    assert entry.data == {
        "source": "admin",
        "filters": f"home_store__id__exact={chain.store_b.pk}",
        "rows": 3,
        "format": "csv",
        "columns": ["member_code", "name", "phone", "store_code"],
        "headers": "zh",
        "phones": "masked",
    }
    # The file is under MEDIA_ROOT/exports, named by nothing it holds
    (stored,) = export_files(settings)
    assert stored.suffix == ".csv" and "members" in stored.parts and "李娜" not in stored.name


def test_the_progress_bar_moves_while_the_rows_are_written(client, chain, monkeypatch):
    """The JSON the page's script polls reads the rows written so far from the cache."""
    Member.objects.bulk_create(
        [Member(code=f"9{i:09d}", phone=f"+86137{i:08d}", name="批量会员") for i in range(5000)], batch_size=1000
    )
    monkeypatch.setattr("members.exports.CHUNK_SIZE", 500)
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    monkeypatch.setattr(export_jobs, "PROGRESS_EVERY_SECONDS", 0)
    job = make_job(chain)
    client.force_login(chain.hq_admin)

    snapshots = []
    record = export_jobs._Progress.__call__

    def and_look(self, rows):
        record(self, rows)
        snapshots.append(client.get(job_url(job, "progress")).json())

    monkeypatch.setattr(export_jobs._Progress, "__call__", and_look)
    export_jobs.export_job_run(job_id=job.pk)

    assert [s["rows"] for s in snapshots] == list(range(500, 5001, 500))
    middle = snapshots[4]
    assert (middle["status"], middle["finished"], middle["phase"], middle["total"]) == (
        "running",
        False,
        "writing",
        5000,
    )
    assert middle["percent"] == 49
    assert max(s["percent"] for s in snapshots) == 99  # the last percent is the file's end
    done = client.get(job_url(job, "progress")).json()
    assert (done["status"], done["finished"], done["percent"], done["rows"]) == ("done", True, 100, 5000)


def test_a_large_xlsx_export_of_the_hq_admin_has_full_phones(
    client, chain, members, small_limits, django_capture_on_commit_callbacks, celery_broker
):
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_export(client, fmt="xlsx", headers="en")
    job = ExportJob.objects.get()
    assert response["Location"] == job_url(job)
    assert (job.status, job.fmt, job.headers, job.full_phones, job.rows_written) == ("done", "xlsx", "en", True, 4)
    response = client.get(job_url(job, "download"))
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["X-Export-Rows"] == "4" and "no-store" in response["Cache-Control"]
    rows = xlsx_dicts(b"".join(response.streaming_content))
    assert sorted(r["phone"] for r in rows) == ["13812340000", "13812340001", "13812340002", "13900001111"]


def test_the_ticked_members_of_the_action_are_what_the_job_writes(
    client, chain, members, small_limits, django_capture_on_commit_callbacks, celery_broker
):
    client.force_login(chain.hq_admin)
    ticked = f"{members[0].pk},{members[2].pk},{members[3].pk}"
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, f"ids={ticked}", columns=["name"])
    job = ExportJob.objects.get()
    assert {r["姓名"] for r in csv_dicts(downloaded(client, job))} == {"王芳", "李娜", "张伟"}
    assert ["Ticked", "3"] in job.filters


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=王", {"王芳", "王小明"}),
        ("q=1381234", {"王芳", "王小明", "李娜"}),
        ("tag={vip}", {"王芳", "李娜", "张伟"}),
        ("status__exact=frozen", {"张伟", "李娜", "王小明"}),
        ("registered_at__gte={today}", {"王芳", "王小明", "李娜", "张伟"}),
        ("home_store__id__exact={store_a}&q=王小", {"王小明"}),
    ],
)
def test_every_filter_of_the_list_reaches_the_worker(
    client, chain, members, monkeypatch, query, expected, django_capture_on_commit_callbacks, celery_broker
):
    """The worker writes exactly the members the request counted: the list's filters and search survive
    the trip as the list's query string, applied again by the admin's own changelist."""
    from tests.factories import TagFactory

    monkeypatch.setattr(export_jobs, "STREAM_MAX_ROWS", {"csv": 0, "xlsx": 0})
    vip = TagFactory(name="VIP")
    for member in members[0], members[2], members[3]:
        member.tags.add(vip)
    Member.objects.filter(pk__in=[members[1].pk, members[2].pk, members[3].pk]).update(status="frozen")
    # The date filter's own links ("Today"): the start of the local day, with its offset.
    today = quote(f"{timezone.localdate().isoformat()} 00:00:00+08:00")
    query = query.format(vip=vip.pk, today=today, store_a=chain.store_a.pk)
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, query, columns=["name"])
    job = ExportJob.objects.get()
    assert job.total_rows == len(expected)
    assert {r["姓名"] for r in csv_dicts(downloaded(client, job))} == expected


def test_a_small_export_still_streams_in_the_request(client, chain, members):
    client.force_login(chain.marketer)
    response = post_export(client)
    assert isinstance(response, StreamingHttpResponse)
    assert len(csv_dicts(streamed(response))) == 4
    assert not ExportJob.objects.exists()
    assert AuditEntry.objects.filter(action=MEMBERS_EXPORTED).count() == 1


def test_the_limits_are_rows_per_format():
    from config.tabular import TabularExport

    def export(fmt, count):
        return TabularExport(headers=[], kinds=[], chunks=iter, count=count, fmt=fmt, filename="x")

    assert not export_jobs.export_runs_in_background(export("csv", 50_000))
    assert export_jobs.export_runs_in_background(export("csv", 50_001))
    assert not export_jobs.export_runs_in_background(export("xlsx", 10_000))
    assert export_jobs.export_runs_in_background(export("xlsx", 10_001))


# --- who sees what ----------------------------------------------------------------------------


@pytest.fixture
def viewer_without_export(db):
    """A back-office login that may read members (and the exports' list) but has no role that may export."""
    user = get_user_model().objects.create_user(username="reader", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_member", "view_exportjob"]))
    return user


def test_store_staff_and_staff_without_an_export_role_reach_no_export(
    client, chain, members, small_limits, viewer_without_export, settings
):
    job = make_job(chain)
    export_jobs.export_job_run(job_id=job.pk)
    urls = [JOBS, job_url(job), job_url(job, "progress"), job_url(job, "download")]
    for persona in ("cashier_a", "cashier_b", "manager_a"):
        client.force_login(getattr(chain, persona))  # store staff never reach the back office
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and reverse("admin:login") in response["Location"], (persona, url)
        assert post_export(client).status_code == 302
    client.force_login(viewer_without_export)
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert post_export(client).status_code == 403
    assert ExportJob.objects.count() == 1 and AuditEntry.objects.filter(action=MEMBERS_EXPORTED).count() == 1


def test_a_marketer_sees_only_their_own_exports_and_the_hq_admin_all(client, chain, members, small_limits):
    admins = make_job(chain, actor=chain.hq_admin)
    marketers = make_job(chain, actor=chain.marketer)
    for job in (admins, marketers):
        export_jobs.export_job_run(job_id=job.pk)

    # The marketer: their own job, never the HQ admin's (it has the full phones they may not see)
    client.force_login(chain.marketer)
    listed = client.get(JOBS).context["cl"].result_list
    assert list(listed) == [marketers]
    assert client.get(job_url(marketers)).status_code == 200
    assert {r["phone"] for r in csv_dicts(downloaded(client, marketers))} >= {"138****0000"}
    for name in ("change", "progress", "download"):
        assert client.get(job_url(admins, name)).status_code == 403, name

    # The HQ admin: every job, with who asked for it
    client.force_login(chain.hq_admin)
    page = client.get(JOBS)
    assert set(page.context["cl"].result_list) == {admins, marketers}
    assert "marketer" in page.content.decode()
    assert csv_dicts(downloaded(client, marketers))[0]["phone"].count("*") == 4  # as the marketer got it
    assert client.get(job_url(admins)).status_code == 200


def test_the_job_writes_with_the_askers_role_as_it_is_when_it_runs(chain, members, monkeypatch, client):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    # Given an HQ admin's export, asked with full phones, and the admin made a marketer before it runs
    job = make_job(chain, actor=chain.hq_admin)
    assert job.full_phones
    staff_set_role(actor=chain.hq_admin, user=chain.hq_admin, role="hq_marketer", reason="test")
    # When the worker writes it, the phones are masked
    export_jobs.export_job_run(job_id=job.pk)
    client.force_login(get_user_model().objects.get(pk=chain.hq_admin.pk))
    assert {r["phone"] for r in csv_dicts(downloaded(client, job))} == {
        "138****0000",
        "138****0001",
        "138****0002",
        "139****1111",
    }

    # Given a marketer's export and the marketer's role taken away before it runs: no file
    job = make_job(chain, actor=chain.marketer)
    staff_set_role(actor=chain.hq_admin, user=chain.marketer, role=None, reason="left the company")
    job = export_jobs.export_job_run(job_id=job.pk)
    assert (job.status, job.message, job.file.name) == ("failed", "Your role no longer allows exports.", "")


# --- once, whole, and for a while -------------------------------------------------------------


def test_a_job_run_twice_writes_one_file(chain, members, monkeypatch, settings):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)
    first = export_jobs.export_job_run(job_id=job.pk)
    again = export_jobs.export_job_run(job_id=job.pk)
    assert first.status == again.status == "done" and first.file.name == again.file.name
    assert len(export_files(settings)) == 1
    assert AuditEntry.objects.filter(action=MEMBERS_EXPORTED).count() == 1


def test_a_running_job_is_left_to_its_worker_until_its_lease_runs_out(chain, members, monkeypatch, settings):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)
    now = timezone.now()
    # Another run holds it (its lease is live): a second delivery of the task leaves it alone
    ExportJob.objects.filter(pk=job.pk).update(
        status="running", started_at=now, worker="other:1:x", attempts=1, lease_until=now + timedelta(minutes=5)
    )
    assert export_jobs.export_job_run(job_id=job.pk).status == "running"
    assert export_files(settings) == []
    # That run's worker died (its lease ran out a minute ago): this run takes the job over and writes it
    ExportJob.objects.filter(pk=job.pk).update(lease_until=now - timedelta(minutes=1))
    job = export_jobs.export_job_run(job_id=job.pk)
    assert (job.status, job.rows_written, job.attempts, job.lease_until) == ("done", 4, 2, None)
    assert len(export_files(settings)) == 1


def test_a_run_overtaken_by_another_keeps_no_file(chain, members, monkeypatch, settings):
    """A worker presumed dead that finishes after all must not replace the file of the run that took over."""
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)
    write = export_jobs._write

    def and_meanwhile_another_run_takes_over(job, export, progress):
        result = write(job, export, progress)
        ExportJob.objects.filter(pk=job.pk).update(worker="another:2:y")
        return result

    monkeypatch.setattr(export_jobs, "_write", and_meanwhile_another_run_takes_over)
    job = export_jobs.export_job_run(job_id=job.pk)
    assert (job.status, job.file.name, job.worker) == ("running", "", "another:2:y")
    assert export_files(settings) == []


def test_a_failing_export_leaves_no_file_and_says_so(chain, members, monkeypatch, settings, client):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)

    def broken(*args, **kwargs):
        yield [["王芳", "13800138000"]]
        raise RuntimeError("the database went away")

    monkeypatch.setattr("members.exports.member_export_rows", broken)
    job = export_jobs.export_job_run(job_id=job.pk)
    assert (job.status, job.message) == ("failed", "The export failed unexpectedly: export it again.")
    assert list((Path(settings.MEDIA_ROOT) / "exports").rglob("*.*")) == []  # not even the partial file
    client.force_login(chain.hq_admin)
    assert "The export failed unexpectedly" in client.get(job_url(job)).content.decode()
    assert client.get(job_url(job, "download")).status_code == 404


def test_the_job_keeps_the_lists_parameters_not_code(
    client, chain, members, monkeypatch, django_capture_on_commit_callbacks, celery_broker
):
    monkeypatch.setattr(export_jobs, "STREAM_MAX_ROWS", {"csv": 0, "xlsx": 0})
    client.force_login(chain.hq_admin)
    listed = admin_search_url(client, reverse("admin:members_member_changelist"), "王")
    token = listed.split("q=")[1]
    with django_capture_on_commit_callbacks(execute=True):
        post_export(client, f"home_store__id__exact={chain.store_a.pk}&q={token}&ids={members[0].pk},{members[1].pk}")

    job = ExportJob.objects.get()
    # The search the list's token stood for: the worker has no session to read it from.
    assert job.selection == {
        "source": "member_list",
        "query": f"home_store__id__exact={chain.store_a.pk}",
        "search": "王",
        "ids": [members[0].pk, members[1].pk],
    }
    assert (job.status, job.rows_written) == ("done", 2)


def test_a_job_asked_for_before_the_update_fails_and_says_to_export_again(chain, members, monkeypatch, settings):
    """Jobs of the pickled format: the migration leaves them a selection no app registers."""
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)
    ExportJob.objects.filter(pk=job.pk).update(selection={"source": "pickled-query"})

    job = export_jobs.export_job_run(job_id=job.pk)

    assert (job.status, job.file.name) == ("failed", "")
    assert job.message == (
        "The export was asked for before the server was updated and cannot be written now: export it again."
    )
    assert export_files(settings) == []


@pytest.mark.parametrize(
    "selection",
    [
        {"source": "member_list", "query": "referrer__phone__regex=.*"},  # a lookup the list does not offer
        {"source": "member_list", "query": "tags__name__in=VIP"},
        {"source": "member_list", "query": "home_store__id__exact=x"},
        {"source": "member_list", "query": "_to_field=phone"},
        {"source": "member_list", "query": 7},
        {"source": "member_list", "query": "", "ids": ["1 OR 1=1"]},
        {"source": "member_list", "query": "", "ids": []},
        {"source": "member_list", "query": "", "ids": "1,2"},
        {"source": "segment", "rules": "everyone"},
        {"source": "segment", "rules": [{"field": "phone", "op": "startswith", "value": "1"}]},
        {"source": "members.models.Member.objects.all"},
        ["member_list"],
    ],
)
def test_a_job_with_hostile_parameters_writes_nothing(chain, members, monkeypatch, settings, selection):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain, actor=chain.marketer)
    ExportJob.objects.filter(pk=job.pk).update(selection=selection)

    job = export_jobs.export_job_run(job_id=job.pk)

    assert (job.status, job.file.name) == ("failed", "") and job.message
    assert export_files(settings) == []


def test_no_parameter_widens_the_export_beyond_the_askers_list(chain, members, monkeypatch, client):
    """The parameters only ever narrow the asker's list: the ids select within the filters, and the
    phones are what the asker's role may see, whatever the job says."""
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    outside = members[2]  # of store B
    job = make_job(
        chain,
        actor=chain.marketer,
        selection={
            "source": "member_list",
            "query": f"home_store__id__exact={chain.store_a.pk}",
            "ids": [members[0].pk, outside.pk],
        },
    )
    ExportJob.objects.filter(pk=job.pk).update(full_phones=True)

    job = export_jobs.export_job_run(job_id=job.pk)

    client.force_login(chain.marketer)
    assert csv_dicts(downloaded(client, job)) == [{"name": "王芳", "phone": "138****0000"}]


def test_without_a_broker_the_job_starts_a_daemon_thread(monkeypatch, settings):
    settings.BROKER_CONFIGURED = False
    started = []

    class FakeThread:
        def __init__(self, *, target, args, name, daemon):
            started.append((target, args, daemon))

        def start(self):
            pass

    monkeypatch.setattr(export_jobs.threading, "Thread", FakeThread)
    export_jobs.export_job_start(42)
    assert started == [(export_jobs._run_in_thread, (42,), True)]


def test_old_files_are_deleted_and_their_jobs_expire(chain, members, monkeypatch, settings, client):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    old, recent = make_job(chain), make_job(chain)
    for job in (old, recent):
        export_jobs.export_job_run(job_id=job.pk)
    now = timezone.now()
    ExportJob.objects.filter(pk=old.pk).update(started_at=now - timedelta(days=8), finished_at=now - timedelta(days=8))
    # and a temporary file that a killed worker left behind, as old
    partial = Path(settings.MEDIA_ROOT) / "exports" / ".x.csv.abc.partial"
    partial.write_bytes(b"half")
    os.utime(partial, (time.time() - 8 * 86400,) * 2)
    old_file = Path(ExportJob.objects.get(pk=old.pk).file.path)

    assert export_jobs.export_jobs_expire() == {"expired": 1, "partial_files": 1}
    assert export_jobs.export_jobs_expire() == {"expired": 0, "partial_files": 0}

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, old.file.name) == ("expired", "") and not old_file.exists()
    assert recent.status == "done" and Path(recent.file.path).exists()
    assert not partial.exists()
    client.force_login(chain.hq_admin)
    assert "The file was deleted 7 days after it was written" in client.get(job_url(old)).content.decode()
    assert client.get(job_url(old, "download")).status_code == 404


def test_the_cleanup_is_a_celery_task_scheduled_hourly(chain, members, monkeypatch):
    task = PeriodicTask.objects.select_related("interval").get(name="members: delete old exports")
    assert (task.task, task.interval.every, task.interval.period, task.enabled) == (
        "members.tasks.expire_exports",
        1,
        "hours",
        True,
    )
    assert task.kwargs == "{}"  # the retention is settings.PII_FILE_RETENTION_DAYS (migration members 0014)
    celery_app.loader.import_default_modules()
    for name in ("members.tasks.expire_exports", "members.tasks.run_export"):
        assert celery_app.tasks[name].acks_late
    from members.tasks import expire_exports

    assert expire_exports.apply().get() == {"expired": 0, "partial_files": 0, "import_files": 0}


def test_the_schedule_migration_applies_twice_and_reverses(db):
    import importlib

    from django.apps import apps
    from django_celery_beat.models import IntervalSchedule

    migration = importlib.import_module("members.migrations.0006_export_cleanup_task")
    intervals = IntervalSchedule.objects.count()
    migration.create_periodic_task(apps, None)
    migration.create_periodic_task(apps, None)
    assert PeriodicTask.objects.filter(name=migration.NAME).count() == 1
    assert IntervalSchedule.objects.count() == intervals
    migration.delete_periodic_task(apps, None)
    assert not PeriodicTask.objects.filter(name=migration.NAME).exists()
    assert not IntervalSchedule.objects.filter(every=1, period="hours").exists()


# --- the pages --------------------------------------------------------------------------------


def test_the_job_pages_query_counts_are_pinned(client, chain, members, monkeypatch, django_assert_num_queries):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain, actor=chain.marketer)
    client.force_login(chain.marketer)
    client.get(job_url(job))
    # session, user, role, the job (with who asked and the store), 2 × admin permissions (the app list)
    with django_assert_num_queries(6):
        assert client.get(job_url(job)).status_code == 200
    # session, user, role, the job
    with django_assert_num_queries(4):
        assert client.get(job_url(job, "progress")).status_code == 200
    export_jobs.export_job_run(job_id=job.pk)
    with django_assert_num_queries(6):
        assert "export-download" in client.get(job_url(job)).content.decode()
    with django_assert_num_queries(4):
        assert client.get(job_url(job, "download")).status_code == 200


def test_a_chinese_file_name_is_downloaded_whole(client, chain, members, monkeypatch):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)
    export_jobs.export_job_run(job_id=job.pk)
    ExportJob.objects.filter(pk=job.pk).update(file_name="会员 导出.csv")
    client.force_login(chain.hq_admin)
    response = client.get(job_url(job, "download"))
    assert response["Content-Disposition"] == "attachment; filename*=utf-8''%E4%BC%9A%E5%91%98%20%E5%AF%BC%E5%87%BA.csv"


def test_the_list_of_exports_links_each_job_and_adds_nothing(client, chain, members, monkeypatch):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    job = make_job(chain)
    client.force_login(chain.hq_admin)
    page = client.get(JOBS)
    assert page.status_code == 200 and job_url(job) in page.content.decode()
    assert client.get(reverse("admin:members_exportjob_add"))["Location"] == JOBS
    assert client.post(reverse("admin:members_exportjob_delete", args=[job.pk])).status_code == 403


def test_the_database_refuses_a_job_that_does_not_hold_together(chain):
    common = {"created_by": chain.hq_admin, "fmt": "csv", "headers": "zh", "file_name": "x.csv"}
    bad = [
        {"kind": "members", "status": "lost", "selection": EVERY_MEMBER},
        {"kind": "coupons", "selection": EVERY_MEMBER},
        {"kind": "members"},  # no filter to write again
        {"kind": "points_ledger"},  # no days
        {"kind": "members", "selection": EVERY_MEMBER, "status": "done"},  # ready without a file
        {"kind": "members", "selection": EVERY_MEMBER, "finished_at": timezone.now()},  # finished, never started
    ]
    for fields in bad:
        with pytest.raises(IntegrityError), transaction.atomic():
            ExportJob.objects.create(**common, **fields)
