"""Segments in the back office: the builder form (with and without JavaScript), the live count, the
preview, the export job, the members list's segment filter, deleting, roles and query counts."""

from decimal import Decimal

import pytest
from django.urls import reverse

from campaigns.models import Segment
from campaigns.services.segments import SEGMENT_CREATED, segment_create
from loyalty.models import MemberStats
from members.exports import MEMBERS_EXPORTED
from members.models import ExportJob
from stores.models import AuditEntry
from tests.factories import MemberFactory
from tests.factories.campaigns import SegmentFactory

pytestmark = pytest.mark.django_db

SEGMENTS = reverse("admin:campaigns_segment_changelist")
ADD = reverse("admin:campaigns_segment_add")
COUNT = reverse("admin:campaigns_segment_count")
MEMBERS = reverse("admin:members_member_changelist")


def preview_url(segment) -> str:
    return reverse("admin:campaigns_segment_preview", args=[segment.pk])


def change_url(segment) -> str:
    return reverse("admin:campaigns_segment_change", args=[segment.pk])


@pytest.fixture
def marketer(client, chain):
    client.force_login(chain.marketer)
    # The messages below are the English msgids; the default language is Chinese.
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def hq(client, chain):
    client.force_login(chain.hq_admin)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def members(chain, policy, tiers):
    """王芳 (gold, ¥1,500, store A), 李娜 (normal, ¥80, store B), 张伟 (no purchase yet, store A)."""
    wang = MemberFactory(name="王芳", phone="13812345678", home_store=chain.store_a)
    li = MemberFactory(name="李娜", phone="13912345678", home_store=chain.store_b)
    zhang = MemberFactory(name="张伟", phone="13712345678", home_store=chain.store_a)
    MemberStats.objects.create(member=wang, tier=tiers["gold"], total_spend=Decimal("1500.00"), purchase_count=5)
    MemberStats.objects.create(member=li, tier=tiers["normal"], total_spend=Decimal("80.00"), purchase_count=1)
    return wang, li, zhang


def rows(*rules, name="高消费会员", **extra) -> dict:
    """The builder's POST: one row per rule, keyed like the page keys them (rules-<key>-<input>)."""
    data = {"name": name, "description": ""}
    for key, rule in enumerate(rules):
        for input_name, value in rule.items():
            data[f"rules-{key * 3}-{input_name}"] = value
    data.update(extra)
    return data


BIG = [{"field": "spend", "value": {"min": 1000}}]
SPEND_1000 = {"field": "spend", "op": "between", "min": "1000", "max": ""}


# The builder


def test_a_marketer_creates_a_segment_with_the_form_and_lands_on_its_preview(marketer, chain, members, store_a):
    response = marketer.post(
        ADD, rows(SPEND_1000, {"field": "home_store", "op": "in", "value": [str(store_a.pk)]}, _save="")
    )

    segment = Segment.objects.get()
    assert response.status_code == 302 and response.url == preview_url(segment)
    assert segment.rules == [
        {"field": "spend", "op": "between", "value": {"min": "1000.00"}},
        {"field": "home_store", "op": "in", "value": [store_a.pk]},
    ]
    assert segment.member_count == 1 and segment.created_by == chain.marketer
    assert AuditEntry.objects.filter(action=SEGMENT_CREATED, target_id=str(segment.pk)).exists()


def test_blank_rows_are_left_out(marketer, members):
    marketer.post(ADD, rows(SPEND_1000, {"field": ""}, _save=""))

    assert len(Segment.objects.get().rules) == 1


def test_bad_rules_are_shown_next_to_their_row_all_at_once_and_nothing_is_saved(marketer, members):
    response = marketer.post(
        ADD,
        rows(
            {"field": "spend", "op": "between", "min": "500", "max": "100"},
            {"field": "tier", "op": "in"},
            name="",
            _save="",
        ),
    )

    assert response.status_code == 200 and not Segment.objects.exists()
    by_key = {row.key: row.error for row in response.context["rows"]}
    assert by_key == {
        "0": "Rule 1 (Total spend): The lowest value is above the highest; no member could match.",
        "3": "Rule 2 (Tier): Choose at least one.",
    }
    assert response.context["form"].errors == {"name": ["This field is required."]}
    assert "Rule 2 (Tier): Choose at least one." in response.content.decode()


def test_without_javascript_add_a_rule_and_remove_a_rule_redraw_the_page_without_saving(marketer, members):
    added = marketer.post(ADD, rows(SPEND_1000, _add_rule=""))

    assert [row.key for row in added.context["rows"]] == ["0", "1"]
    assert added.context["rows"][0].spec["name"] == "spend"
    removed = marketer.post(ADD, rows(SPEND_1000, {"field": "visits", "min": "2"}, _remove="0", name=""))
    assert [row.field.name for row in removed.context["rows"]] == ["visits"]
    assert not removed.context["form"].errors and "errornote" not in removed.content.decode()
    assert not Segment.objects.exists()


def test_without_javascript_the_count_button_counts_without_saving(marketer, members):
    response = marketer.post(ADD, rows(SPEND_1000, _count=""))

    assert response.context["checked_count"] == "1 member" and not Segment.objects.exists()


def test_the_change_page_shows_the_saved_rules_and_saves_changes(marketer, chain, members, tiers):
    segment = segment_create(
        actor=chain.marketer, name="金卡会员", rules=[{"field": "tier", "value": [tiers["gold"].pk]}]
    )

    page = marketer.get(change_url(segment))
    assert [(r.field.name, r.values) for r in page.context["rows"]] == [("tier", {str(tiers["gold"].pk)})]
    response = marketer.post(
        change_url(segment),
        rows({"field": "tier", "op": "in", "value": [str(tiers["gold"].pk), str(tiers["normal"].pk)]}, name="金卡会员"),
    )

    segment.refresh_from_db()
    assert response.status_code == 302 and segment.member_count == 2


def test_every_field_draws_its_inputs_on_the_builder(marketer, members, tiers):
    page = marketer.get(ADD).content.decode()

    for name in ("tier", "home_store", "tags", "spend", "points_expiring", "birthday_month", "rfm_segment"):
        assert f'id="segment-inputs-{name}"' in page
    assert 'name="rules-__key__-levels" value="high"' in page
    assert "segment_builder.js" in page


# The live count


def test_the_live_count_counts_the_posted_rows(marketer, members):
    response = marketer.post(COUNT, rows(SPEND_1000))

    assert response.status_code == 200
    assert response.json() == {"count": 1, "text": "1 member"}


def test_the_live_count_answers_each_bad_rule_by_its_row_with_400(marketer, members):
    response = marketer.post(COUNT, rows({"field": "points", "min": "-5"}, {"field": "spend", "min": "x"}))

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["field"]) == ("invalid_rules", "rules")
    assert body["errors"] == [
        {"row": "0", "message": "Rule 1 (Points balance): Values cannot be negative."},
        {"row": "3", "message": "Rule 2 (Total spend): The lowest value must be a number."},
    ]


def test_the_live_count_refuses_get(marketer):
    response = marketer.get(COUNT)

    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize("persona", ["manager_a", "cashier_a"])
def test_store_staff_reach_none_of_the_segment_pages(client, chain, persona):
    segment = SegmentFactory()
    client.force_login(getattr(chain, persona))

    for url in (SEGMENTS, ADD, change_url(segment), preview_url(segment)):
        assert client.get(url).status_code == 302  # to the admin's login
    assert client.post(COUNT, rows(SPEND_1000)).status_code == 302
    assert client.post(ADD, rows(SPEND_1000)).status_code == 302
    assert not Segment.objects.exclude(pk=segment.pk).exists()


# The preview and the export


def test_the_preview_shows_the_count_the_tiers_and_masked_phones_to_a_marketer(marketer, chain, members):
    segment = segment_create(actor=chain.marketer, name="消费过的会员", rules=[{"field": "spend", "value": {"min": 1}}])

    response = marketer.get(preview_url(segment))

    preview = response.context["preview"]
    assert preview.count == 2 and response.context["count_text"] == "2 members"
    assert preview.by_tier == [("普卡", 1), ("金卡", 1)]
    page = response.content.decode()
    assert "138****5678" in page and "13812345678" not in page


def test_the_preview_shows_full_phones_to_the_hq_admin(hq, chain, members):
    segment = segment_create(actor=chain.marketer, name="全部会员", rules=[])

    response = hq.get(preview_url(segment))

    assert "13812345678" in response.content.decode()
    assert response.context["preview"].by_tier == [("普卡", 1), ("金卡", 1), ("No tier", 1)]


def test_exporting_from_the_preview_starts_an_audited_job_and_opens_its_page(
    marketer, chain, members, settings, tmp_path, monkeypatch
):
    settings.MEDIA_ROOT = tmp_path / "media"
    monkeypatch.setattr("members.export_jobs.export_job_start", lambda job_id: None)
    segment = segment_create(
        actor=chain.marketer, name="高消费会员", rules=[{"field": "spend", "value": {"min": 1000}}]
    )

    response = marketer.post(
        reverse("admin:campaigns_segment_export", args=[segment.pk]), {"fmt": "csv", "headers": "zh"}
    )

    job = ExportJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("admin:members_exportjob_change", args=[job.pk])
    assert (job.total_rows, job.created_by, job.full_phones) == (1, chain.marketer, False)
    assert AuditEntry.objects.get(action=MEMBERS_EXPORTED).data["filters"] == f"segment={segment.pk}"


def test_count_again_keeps_the_new_figure(marketer, chain, members):
    segment = segment_create(
        actor=chain.marketer, name="高消费会员", rules=[{"field": "spend", "value": {"min": 1000}}]
    )
    MemberStats.objects.filter(member=members[1]).update(total_spend=Decimal("5000.00"))

    marketer.post(reverse("admin:campaigns_segment_recount", args=[segment.pk]))

    segment.refresh_from_db()
    assert segment.member_count == 2


# The members list's segment filter


def test_the_members_list_filters_by_segment(marketer, chain, members):
    segment = segment_create(
        actor=chain.marketer, name="高消费会员", rules=[{"field": "spend", "value": {"min": 1000}}]
    )

    response = marketer.get(MEMBERS, {"segment": segment.pk})

    assert [m.name for m in response.context["cl"].result_list] == ["王芳"]
    assert "高消费会员" in response.content.decode()


def test_the_members_export_page_exports_the_filtered_segment(marketer, chain, members):
    segment = segment_create(
        actor=chain.marketer, name="高消费会员", rules=[{"field": "spend", "value": {"min": 1000}}]
    )

    response = marketer.get(reverse("admin:members_member_export"), {"segment": segment.pk})

    assert response.context["count"] == 1


# Deleting


def test_a_segment_a_campaign_uses_is_not_deleted_and_the_page_says_why(marketer, campaign):
    response = marketer.post(reverse("admin:campaigns_segment_delete", args=[campaign.segment.pk]), {"post": "yes"})

    assert response.status_code == 302 and Segment.objects.filter(pk=campaign.segment.pk).exists()
    shown = [str(m) for m in response.wsgi_request._messages]
    assert shown == ["“全部会员” cannot be deleted: campaign “春季焕新” use it. Change them to another segment first."]


def test_an_unused_segment_is_deleted_and_audited(marketer, chain):
    segment = SegmentFactory(name="临时人群")

    marketer.post(reverse("admin:campaigns_segment_delete", args=[segment.pk]), {"post": "yes"})

    assert not Segment.objects.exists()
    assert AuditEntry.objects.filter(action="campaigns.segment_deleted").exists()


# Query counts


def test_the_segment_list_costs_a_fixed_number_of_queries(marketer, chain, django_assert_num_queries):
    for _ in range(5):
        SegmentFactory(created_by=chain.marketer)
    marketer.get(SEGMENTS)

    # session, user, role, 2 × permissions, 2 × count (matching the search, all), the page with who created
    with django_assert_num_queries(8):
        assert marketer.get(SEGMENTS).status_code == 200


def test_the_builder_page_costs_a_fixed_number_of_queries(marketer, chain, members, tiers, django_assert_num_queries):
    segment = segment_create(
        actor=chain.marketer, name="金卡会员", rules=[{"field": "tier", "value": [tiers["gold"].pk]}]
    )
    marketer.get(change_url(segment))

    # session, user, role, the segment, tiers, stores, tags, 2 × permissions
    with django_assert_num_queries(9):
        assert marketer.get(change_url(segment)).status_code == 200


def test_the_live_count_costs_a_fixed_number_of_queries(marketer, members, tiers, store_a, django_assert_num_queries):
    data = rows(
        SPEND_1000,
        {"field": "tier", "value": [str(tiers["gold"].pk)]},
        {"field": "home_store", "value": [str(store_a.pk)]},
    )
    marketer.post(COUNT, data)

    # session, user, role, tiers and stores (do the ids exist), the count
    with django_assert_num_queries(6):
        assert marketer.post(COUNT, data).json()["count"] == 1


def test_the_preview_costs_a_fixed_number_of_queries(marketer, chain, members, django_assert_num_queries):
    segment = segment_create(actor=chain.marketer, name="全部会员", rules=[])
    marketer.get(preview_url(segment))

    # session, user, role, the segment, counts by tier, the first members, 2 × permissions
    with django_assert_num_queries(8):
        assert marketer.get(preview_url(segment)).status_code == 200


def test_a_staff_login_with_the_model_permissions_but_no_hq_role_is_refused(client, db):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission

    user = get_user_model().objects.create_user("helper", password="x", is_staff=True)
    segment_permissions = Permission.objects.filter(content_type__app_label="campaigns", codename__endswith="segment")
    user.user_permissions.set(segment_permissions)
    client.force_login(user)

    assert client.get(SEGMENTS).status_code == 403
    assert client.get(ADD).status_code == 403
    assert client.post(COUNT, rows(SPEND_1000)).status_code == 403
