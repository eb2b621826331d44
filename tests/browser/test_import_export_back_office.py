"""HQ staff move data in and out in real Chromium: purchase history in, a large members export out."""

from pathlib import Path

import pytest

from loyalty.models import PointsAccount, Sale
from members import export_jobs
from tests.browser.test_back_office import log_in
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory
from tests.members.import_support import write_csv

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def embedded_mode(settings, tmp_path):
    # Background work runs in a thread of the server, as in `make run`: no broker, no worker.
    settings.BROKER_CONFIGURED = False
    settings.MEDIA_ROOT = tmp_path / "media"


def test_hq_imports_purchase_history_with_points_and_watches_the_job(
    live_server, chain, tablet_page, screenshot, tmp_path
):
    LoyaltySettingsFactory()
    EarningRuleFactory()
    member = MemberFactory(phone="13812345678", name="王芳", home_store=chain.store_a)
    path = write_csv(
        tmp_path / "消费记录.csv",
        [
            ["A001", "13812345678", "SH001", "2026-10-01 10:30", "128.00", "饮料", "2", "28.00"],
            ["A001", "", "", "", "", "护肤", "1", "100.00"],
            ["A002", "", "BJ001", "2026-10-02 18:05", "45.50", "", "", ""],
        ],
        header=["小票号", "手机号", "门店编码", "消费时间", "实付金额", "品类", "数量", "商品金额"],
        encoding="utf-8-sig",
    )
    page = tablet_page("zh-CN")
    log_in(page, live_server, "hq_admin")
    page.goto(f"{live_server.url}/admin/loyalty/sale/")
    page.click("text=导入消费记录")
    page.set_input_files("#id_file", str(path))
    page.check("#id_award_points")
    screenshot(page, "admin-import-sales-upload-zh")
    page.click("input[type=submit]")
    # The job page reloads itself when the import has finished.
    page.wait_for_selector("#count-created", timeout=30_000)

    assert page.inner_text("#count-created") == "2"
    assert Sale.objects.filter(source="import").count() == 2
    assert PointsAccount.objects.get(pk=member.pk).available == 128
    assert "发放积分" in page.content()
    screenshot(page, "admin-import-sales-done-zh")


def test_a_marketers_large_export_is_written_in_the_background_then_downloaded(
    live_server, chain, tablet_page, screenshot, monkeypatch
):
    for i in range(30):
        name = "张" + "伟芳娜秀英敏静丽强磊"[i % 10] + "明超霞"[i % 3]
        MemberFactory(phone=f"139{i:08d}", name=name, home_store=chain.store_a)
    monkeypatch.setattr(export_jobs, "STREAM_MAX_ROWS", {"csv": 10, "xlsx": 10})
    page = tablet_page("en-US")
    log_in(page, live_server, "marketer")
    page.goto(f"{live_server.url}/admin/members/member/")
    page.click("a.export-members")
    page.click("input[name=_export]")
    page.wait_for_selector("a.download-link, a:has-text('Download')", timeout=30_000)
    screenshot(page, "admin-export-job-done-en")

    with page.expect_download() as download:
        page.click("a:has-text('Download')")
    body = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(body) == 31  # the header and 30 members
    assert "139****0000" in "\n".join(body) and "13900000000" not in "\n".join(body)
