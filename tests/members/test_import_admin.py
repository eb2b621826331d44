"""The members import in the back office: upload → job page → progress → counts, by role."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from loyalty.models import LoyaltySettings
from members.imports import jobs
from members.models import ImportJob, Member
from stores.models import AuditEntry
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db

UPLOAD = reverse("admin:members_importjob_upload")
CHANGELIST = reverse("admin:members_member_changelist")
JOBS = reverse("admin:members_importjob_changelist")
TEMPLATE = reverse("admin:members_importjob_template")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


@pytest.fixture
def policy(db):
    return LoyaltySettings.current()


def upload(client, path, *, mode="all_or_nothing", dry_run=False, language="en"):
    with path.open("rb") as f:
        data = {"file": f, "mode": mode}
        if dry_run:
            data["dry_run"] = "on"
        return client.post(UPLOAD, data, HTTP_ACCEPT_LANGUAGE=language)


def job_url(job, name="change"):
    return reverse(f"admin:members_importjob_{name}", args=[job.pk])


def test_the_hq_admin_sees_the_import_button_and_the_marketer_does_not(client, chain):
    client.force_login(chain.hq_admin)
    assert UPLOAD in client.get(CHANGELIST).content.decode()
    client.force_login(chain.marketer)
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and UPLOAD not in page.content.decode()


def test_marketers_and_cashiers_cannot_import_or_see_imports(client, chain, tmp_path):
    job = ImportJob.objects.create(created_by=chain.hq_admin, file_name="x.csv", file="imports/members/x.csv")
    urls = [UPLOAD, TEMPLATE, JOBS, job_url(job), job_url(job, "progress"), job_url(job, "errors")]
    client.force_login(chain.marketer)
    for url in urls:
        assert client.get(url).status_code == 403, url
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9]])
    assert upload(client, path).status_code == 403
    client.force_login(chain.cashier_a)  # store staff never reach the back office
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    assert Member.objects.count() == 0 and ImportJob.objects.count() == 1


def test_upload_runs_in_the_background_and_the_job_page_shows_the_outcome(
    client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker, policy
):
    path = write_csv(
        tmp_path / "会员.csv",
        [["13800138000", "王芳", "女", "", "", "SH001", "VIP", "", "100", "", ""], ["12", "李娜", *[""] * 9]],
    )
    client.force_login(chain.hq_admin)

    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, path, mode="skip_bad_rows")

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job_url(job)
    assert (job.status, job.created_by, job.file_name, job.language) == ("done", chain.hq_admin, "会员.csv", "en")
    assert (job.rows, job.created_count, job.rejected_count, job.written) == (2, 1, 1, True)
    assert Member.objects.get().name == "王芳"

    progress = client.get(job_url(job, "progress")).json()
    assert progress["finished"] and progress["percent"] == 100 and progress["status"] == "done"

    page = client.get(job_url(job)).content.decode()
    assert 'id="count-created">1<' in page and 'id="count-rejected">1<' in page
    assert job_url(job, "errors") in page and TEMPLATE in page
    assert "Opening points" in page

    report = client.get(job_url(job, "errors"))
    assert report["Content-Disposition"].startswith("attachment")
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[1] == "3,手机号: “12” is not a valid phone number.,12,李娜,,,,,,,,,"
    audit = AuditEntry.objects.get(action="members.imported")
    assert audit.actor == chain.hq_admin and audit.target_id == str(job.pk) and audit.data["file"] == "会员.csv"


def test_the_job_page_names_the_columns_the_import_ignored(
    client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker
):
    # A members export's header, with its optional columns: accepted on the form, read past by the job.
    path = tmp_path / "导出.csv"
    path.write_text(
        "手机号,姓名,会员编号,状态,门店名称,营销许可\r\n13800138000,王芳,00012345,冻结,上海徐汇店,是\r\n",
        encoding="utf-8-sig",
    )
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(client, path)

    job = ImportJob.objects.get()
    assert response.status_code == 302 and (job.status, job.created_count) == ("done", 1)
    assert job.extra[-1] == ["Ignored columns", "会员编号、状态、门店名称、营销许可"]
    page = client.get(job_url(job)).content.decode()
    assert '<th scope="row">Ignored columns</th><td class="num">会员编号、状态、门店名称、营销许可</td>' in page
    member = Member.objects.get()
    assert (member.status, member.marketing_consent) == ("active", False)


def test_a_bad_row_in_all_or_nothing_mode_leaves_a_rejected_job(
    client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker
):
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9], ["13800138000", "王芳", *[""] * 9]])
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, path)
    job = ImportJob.objects.get()
    assert (job.status, job.written, job.rejected_count) == ("rejected", False, 1)
    assert Member.objects.count() == 0
    assert "nothing was written" in client.get(job_url(job)).content.decode()


def test_a_dry_run_from_the_admin_writes_nothing(
    client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker
):
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9]])
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, path, dry_run=True)
    job = ImportJob.objects.get()
    assert (job.status, job.dry_run, job.created_count, job.written) == ("done", True, 1, False)
    assert Member.objects.count() == 0
    assert "What the import would do" in client.get(job_url(job)).content.decode()


def test_a_wrong_file_is_refused_on_the_form(client, chain, tmp_path):
    client.force_login(chain.hq_admin)
    path = tmp_path / "m.csv"
    path.write_text("姓名,性别\n王芳,女\n", encoding="utf-8")
    response = upload(client, path)
    assert response.status_code == 200
    assert "The file has no 手机号 column." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_progress_shows_while_the_import_runs(client, chain, tmp_path, monkeypatch):
    """The import runs in one transaction; meanwhile its progress is in the cache, where the job page's
    JSON view reads it (from another connection; no query may run on the import's own during its COPY)."""
    rows = [[f"138{i:08d}", "王芳", *[""] * 9] for i in range(25_000)]
    path = write_csv(tmp_path / "big.csv", rows)
    client.force_login(chain.hq_admin)
    monkeypatch.setattr(jobs, "import_job_start", lambda job_id: None)
    upload(client, path)
    job = ImportJob.objects.get()
    assert client.get(job_url(job, "progress")).json()["status"] == "queued"

    snapshots = []
    record = jobs._Progress.__call__

    def and_look(self, progress):
        record(self, progress)
        if progress.phase == "reading" and progress.rows:
            snapshots.append(cache.get(jobs.progress_key(job.pk)))

    monkeypatch.setattr(jobs._Progress, "__call__", and_look)
    monkeypatch.setattr(jobs, "PROGRESS_EVERY_SECONDS", 0)
    jobs.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done" and job.created_count == 25_000

    # What the JSON view answered at that moment: the job row said "running", the cache the rest.
    assert snapshots, "the import reported no progress while reading"
    ImportJob.objects.filter(pk=job.pk).update(status="running", lease_until=job.finished_at)
    cache.set(jobs.progress_key(job.pk), snapshots[0])
    middle = client.get(job_url(job, "progress")).json()
    assert middle["status"] == "running" and not middle["finished"]
    assert middle["phase"] == "reading" and middle["rows"] >= 10_000
    assert 0 < middle["percent"] <= 90


def test_without_a_broker_the_upload_starts_a_daemon_thread(chain, monkeypatch, settings):
    settings.BROKER_CONFIGURED = False
    started = []

    class FakeThread:
        def __init__(self, *, target, args, name, daemon):
            started.append((target, args, daemon))

        def start(self):
            pass

    monkeypatch.setattr(jobs.threading, "Thread", FakeThread)
    jobs.import_job_start(42)
    assert started == [(jobs._run_in_thread, (42,), True)]


def test_the_runner_runs_a_job_once(chain, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "import_job_start", lambda job_id: None)
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9]])
    with path.open("rb") as f:
        from django.core.files.uploadedfile import SimpleUploadedFile

        job = jobs.import_job_create(
            actor=chain.hq_admin,
            upload=SimpleUploadedFile("m.csv", f.read()),
            mode="all_or_nothing",
            dry_run=False,
            language="en",
        )
    first = jobs.import_job_run(job_id=job.pk)
    again = jobs.import_job_run(job_id=job.pk)
    assert first.status == again.status == "done"
    assert AuditEntry.objects.filter(action="members.imported").count() == 1
    assert Member.objects.count() == 1


def test_a_refused_file_job_says_why(chain, tmp_path, monkeypatch):
    monkeypatch.setattr(jobs, "import_job_start", lambda job_id: None)
    from django.core.files.uploadedfile import SimpleUploadedFile

    job = jobs.import_job_create(
        actor=chain.hq_admin,
        upload=SimpleUploadedFile("m.csv", "手机号,姓名\r\n".encode()),
        mode="all_or_nothing",
        dry_run=False,
        language="en",
    )
    job = jobs.import_job_run(job_id=job.pk)
    assert (job.status, job.message) == ("refused", "The file has a header but no rows.")


def test_the_template_has_the_chinese_headers_and_imports_as_it_is(
    client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker, policy
):
    client.force_login(chain.hq_admin)
    response = client.get(TEMPLATE)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    content = response.content
    assert content.startswith(b"\xef\xbb\xbf")
    header, _example = content.decode("utf-8-sig").splitlines()
    assert header.startswith("手机号,姓名,性别,生日,邮箱")
    for column in ("门店编码", "标签", "注册时间", "积分余额", "储值余额", "推荐人手机号"):
        assert column in header
    path = tmp_path / "template.csv"
    path.write_bytes(content)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, path)
    assert ImportJob.objects.get().status == "done"
    assert Member.objects.get().name == "王芳"


def test_the_job_pages_query_counts_are_pinned(client, chain, tmp_path, django_assert_num_queries, monkeypatch):
    monkeypatch.setattr(jobs, "import_job_start", lambda job_id: None)
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9], ["1", "李娜", *[""] * 9]])
    client.force_login(chain.hq_admin)
    upload(client, path, mode="skip_bad_rows")
    job = ImportJob.objects.get()
    jobs.import_job_run(job_id=job.pk)
    client.get(job_url(job))
    # session, user, role, the job (with its uploader), 2 × admin permissions (the app list)
    with django_assert_num_queries(6):
        assert client.get(job_url(job)).status_code == 200
    # session, user, role, the job
    with django_assert_num_queries(4):
        assert client.get(job_url(job, "progress")).status_code == 200


def test_the_list_of_imports(client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker):
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9]])
    client.force_login(chain.hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        upload(client, path)
    page = client.get(JOBS)
    assert page.status_code == 200 and "m.csv" in page.content.decode()
    assert client.get(reverse("admin:members_importjob_add"))["Location"] == UPLOAD


def test_a_finished_job_keeps_when_it_started_and_running_it_again_changes_nothing(client, chain, tmp_path, policy):
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳", *[""] * 9]])
    job = ImportJob.objects.create(created_by=chain.hq_admin, file_name="m.csv")
    with path.open("rb") as f:
        job.file.save("m.csv", f, save=False)
    job.save(update_fields=["file"])

    jobs.import_job_run(job_id=job.pk)
    jobs.import_job_run(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportJob.Status.DONE
    assert job.started_at is not None and job.finished_at >= job.started_at
    assert Member.objects.count() == 1
