"""Files with members' personal data (import uploads, import error reports, exports) are readable by their
owner only whatever the umask, deleted PII_FILE_RETENTION_DAYS after their job finished, and never served
but through a view that checks the role (DESIGN §10, issue 17)."""

import os
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.files import File
from django.urls import reverse
from django.utils import timezone

from members import export_jobs
from members.exports import member_export_prepare
from members.imports.jobs import import_job_create, import_job_run
from members.models import ExportJob, ImportJob, Member
from members.tasks import expire_exports
from tests.factories import MemberFactory
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


@pytest.fixture
def open_umask():
    """A process that would make every new file readable and writable by anyone."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def no_background(monkeypatch):
    monkeypatch.setattr(export_jobs, "export_job_start", lambda job_id: None)
    monkeypatch.setattr("members.imports.jobs.import_job_start", lambda job_id: None, raising=False)


def an_import_with_a_bad_row(chain, tmp_path) -> ImportJob:
    csv = write_csv(tmp_path / "bad.csv", [["13687654321", "李娜", "不男不女", *[""] * 8]])
    with csv.open("rb") as upload:
        job = import_job_create(
            actor=chain.hq_admin, upload=File(upload, name="bad.csv"), mode="skip_bad_rows", dry_run=True, language="en"
        )
    import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.rejected_count == 1 and job.error_report
    return job


def an_export(chain) -> ExportJob:
    export = member_export_prepare(
        actor=chain.hq_admin, queryset=Member.objects.all(), columns=["name", "phone"], fmt="csv", language="en"
    )
    job = export_jobs.export_job_create(
        actor=chain.hq_admin,
        kind=ExportJob.Kind.MEMBERS,
        export=export,
        selection={"source": "member_list", "query": "", "ids": None},
        language="en",
    )
    export_jobs.export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.file
    return job


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def finished_days_ago(model, job, days: int) -> None:
    when = timezone.now() - timedelta(days=days)
    model.objects.filter(pk=job.pk).update(started_at=when, finished_at=when)


def test_uploads_error_reports_and_exports_are_readable_by_their_owner_only_whatever_the_umask(
    chain, tmp_path, open_umask, no_background
):
    MemberFactory(phone="13912345678", name="王芳")

    imported = an_import_with_a_bad_row(chain, tmp_path)
    exported = an_export(chain)

    for path in (Path(imported.file.path), Path(imported.error_report.path), Path(exported.file.path)):
        assert mode(path) == 0o600, (path, oct(mode(path)))
        assert mode(path.parent) == 0o700, (path.parent, oct(mode(path.parent)))


def test_files_past_the_retention_are_deleted_by_the_expiry_task_and_a_second_run_finds_nothing(
    chain, tmp_path, no_background, settings
):
    MemberFactory(phone="13912345678", name="王芳")
    old_import, recent_import = an_import_with_a_bad_row(chain, tmp_path), an_import_with_a_bad_row(chain, tmp_path)
    old_export, recent_export = an_export(chain), an_export(chain)
    finished_days_ago(ImportJob, old_import, 8)
    finished_days_ago(ExportJob, old_export, 8)
    old_files = [Path(old_import.file.path), Path(old_import.error_report.path), Path(old_export.file.path)]
    recent_files = [Path(recent_import.file.path), Path(recent_import.error_report.path), Path(recent_export.file.path)]

    first = expire_exports.apply().get()
    second = expire_exports.apply().get()

    assert (first["expired"], first["import_files"]) == (1, 2)
    assert (second["expired"], second["import_files"]) == (0, 0)
    assert not any(path.exists() for path in old_files)
    assert all(path.exists() for path in recent_files)
    old_import.refresh_from_db()
    assert (old_import.file.name, old_import.error_report.name) == ("", "")
    assert old_import.rejected_count == 1  # the job and its figures stay


def test_the_retention_is_a_setting(chain, tmp_path, no_background, settings):
    settings.PII_FILE_RETENTION_DAYS = 2
    job = an_import_with_a_bad_row(chain, tmp_path)
    finished_days_ago(ImportJob, job, 3)

    assert expire_exports.apply().get()["import_files"] == 2


def test_an_expired_error_report_is_no_longer_offered_nor_served(client, chain, tmp_path, no_background):
    job = an_import_with_a_bad_row(chain, tmp_path)
    finished_days_ago(ImportJob, job, 8)
    expire_exports.apply().get()
    client.force_login(chain.hq_admin)

    page = client.get(reverse("admin:members_importjob_change", args=[job.pk])).content.decode()

    assert reverse("admin:members_importjob_errors", args=[job.pk]) not in page
    assert client.get(reverse("admin:members_importjob_errors", args=[job.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["marketer", "cashier_a", "manager_a", None])
def test_an_error_report_is_served_only_to_a_role_that_may_import(client, chain, tmp_path, no_background, persona):
    job = an_import_with_a_bad_row(chain, tmp_path)
    if persona:
        client.force_login(getattr(chain, persona))

    response = client.get(reverse("admin:members_importjob_errors", args=[job.pk]))

    assert response.status_code in (302, 403, 404)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"13687654321" not in body


def test_the_error_report_is_not_kept_by_caches(client, chain, tmp_path, no_background):
    job = an_import_with_a_bad_row(chain, tmp_path)
    client.force_login(chain.hq_admin)

    response = client.get(reverse("admin:members_importjob_errors", args=[job.pk]))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_no_file_is_served_at_the_media_address(client, chain, tmp_path, no_background, settings):
    MemberFactory(phone="13912345678", name="王芳")
    job = an_import_with_a_bad_row(chain, tmp_path)
    exported = an_export(chain)
    client.force_login(chain.hq_admin)

    for name in (job.file.name, job.error_report.name, exported.file.name):
        assert client.get(f"/{settings.MEDIA_URL}{name}").status_code == 404
