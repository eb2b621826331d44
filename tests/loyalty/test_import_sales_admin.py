"""Purchase history in the back office: the sales list's button → upload → background job → outcome."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse

from loyalty.models import PointsAccount, Sale
from members.models import ImportJob
from tests.factories import MemberFactory
from tests.factories.loyalty import EarningRuleFactory
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db

UPLOAD = reverse("admin:members_importjob_upload", args=["sales"])
TEMPLATE = reverse("admin:members_importjob_template", args=["sales"])
SALES = reverse("admin:loyalty_sale_changelist")
HEADER = ["小票号", "手机号", "门店编码", "消费时间", "实付金额"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    cache.clear()


def test_only_the_hq_admin_gets_the_import_history_button_and_pages(client, chain):
    client.force_login(chain.hq_admin)
    assert UPLOAD in client.get(SALES).content.decode()
    page = client.get(UPLOAD, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Award points" in page.content.decode()
    template = client.get(TEMPLATE)
    assert template.content.decode("utf-8-sig").splitlines()[0].startswith("小票号,手机号,门店编码,消费时间,实付金额")

    client.force_login(chain.marketer)
    for url in (UPLOAD, TEMPLATE):
        assert client.get(url).status_code == 403
    assert client.get(reverse("admin:members_importjob_upload", args=["nonsense"])).status_code in (403, 404)


def test_an_upload_with_award_points_runs_as_a_job_and_shows_sales_created(
    client, chain, tmp_path, django_capture_on_commit_callbacks, celery_broker
):
    EarningRuleFactory()
    member = MemberFactory(phone="13800138000")
    path = write_csv(
        tmp_path / "历史.csv",
        [["R1", "13800138000", "SH001", "2026-01-05 10:00", "88.00"], ["R2", "", "SH001", "2026-01-05 11:00", "9"]],
        header=HEADER,
    )
    client.force_login(chain.hq_admin)

    with django_capture_on_commit_callbacks(execute=True), path.open("rb") as f:
        response = client.post(
            UPLOAD, {"file": f, "mode": "all_or_nothing", "award_points": "on"}, HTTP_ACCEPT_LANGUAGE="en"
        )
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:members_importjob_change", args=[job.pk]
    )

    assert (job.kind, job.options, job.status, job.created_count) == ("sales", {"award_points": True}, "done", 2)
    assert Sale.objects.filter(source="import").count() == 2
    assert PointsAccount.objects.get(pk=member.pk).available == 88
    page = client.get(reverse("admin:members_importjob_change", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="en")
    text = page.content.decode()
    assert 'id="count-created">2<' in text and "Sales created" in text and "points awarded" in text
    assert Sale.objects.get(request_id="import:R1").total_due == Decimal("88.00")


def test_a_members_file_uploaded_as_history_is_refused_on_the_form(client, chain, tmp_path):
    path = write_csv(tmp_path / "m.csv", [["13800138000", "王芳"]], header=["手机号", "姓名"])
    client.force_login(chain.hq_admin)
    with path.open("rb") as f:
        page = client.post(UPLOAD, {"file": f, "mode": "all_or_nothing"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Unknown column(s)" in page.content.decode()
    assert not ImportJob.objects.exists()
