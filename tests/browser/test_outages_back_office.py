"""What people see when something broke underneath, in real Chromium: an export whose worker died runs
again from its page, and a database out of reach is a page that says to try again (tablet: back to the
till), in Chinese."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import OperationalError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from members import export_jobs
from members.exports import member_export_prepare
from members.models import ExportJob, Member
from tests.browser.test_back_office import log_in
from tests.browser.test_tablet import log_in_at_till
from tests.factories import MemberFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def embedded_mode(settings, tmp_path):
    # Background work runs in a thread of the server, as in `make run`: no broker, no worker.
    settings.BROKER_CONFIGURED = False
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_export_whose_worker_died_is_run_again_from_its_page_in_chinese(
    live_server, chain, tablet_page, screenshot, monkeypatch
):
    for i in range(5):
        MemberFactory(phone=f"139{i:08d}", name="张伟", home_store=chain.store_a)
    # Given a marketer's export whose worker died while writing it, twelve minutes ago
    with monkeypatch.context() as patch:
        patch.setattr(export_jobs, "export_job_start", lambda job_id: None)
        export = member_export_prepare(
            actor=chain.marketer, queryset=Member.objects.all(), columns=["name", "phone"], fmt="csv", language="zh"
        )
        job = export_jobs.export_job_create(
            actor=chain.marketer,
            kind=ExportJob.Kind.MEMBERS,
            export=export,
            selection={"source": "member_list", "query": "", "ids": None},
        )
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status="running",
        worker="dead-host:4242:0badf00d",
        attempts=1,
        started_at=now - timedelta(minutes=20),
        heartbeat_at=now - timedelta(minutes=12),
        lease_until=now - timedelta(minutes=2),
    )
    page = tablet_page("zh-CN")
    log_in(page, live_server, "marketer")

    # When the marketer opens the job's page, it says nobody works on it, with a button
    page.goto(f"{live_server.url}/admin/members/exportjob/{job.pk}/change/")
    assert "此任务已无人处理" in page.inner_text("#job-stalled")
    screenshot(page, "admin-export-job-stalled-zh")

    # Then the button writes it again, and the download comes
    page.click("#job-retry-button")
    page.wait_for_selector("#export-download", timeout=30_000)
    screenshot(page, "admin-export-job-run-again-zh")
    with page.expect_download() as download:
        page.click("#export-download")
    assert len(Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()) == 6
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 1)


def test_the_tablet_says_to_try_again_when_the_database_is_out_of_reach(
    live_server, chain, tablet_page, screenshot, monkeypatch
):
    page = tablet_page("zh-CN")
    log_in_at_till(page, live_server, "cashier_a")

    def refuse(self, *args, **kwargs):
        raise OperationalError('connection to server at "127.0.0.1", port 5432 failed: Connection refused')

    with monkeypatch.context() as patch:
        patch.setattr(BaseDatabaseWrapper, "_cursor", refuse)
        response = page.goto(f"{live_server.url}/tablet/")
        screenshot(page, "tablet-database-out-of-reach-zh")

    assert response.status == 503 and response.headers["retry-after"] == "30"
    assert page.inner_text("h1") == "请稍后再试"
    assert page.is_visible("#back-to-till")
