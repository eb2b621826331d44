"""Saving a form unchanged changes nothing, in Chinese and in English (issue 15, item 1).

In Chinese, the date controls were given 1988/01/04, showed nothing and sent nothing: a member's
birthday was erased by saving a note, and a one-month promotion became unlimited. Here, on the demo
chain, the HQ admin opens one object of every admin in real Chromium, in zh-hans and in en, clicks
Save without touching anything, and the object's fields in the database must be as they were.

The demo gets the dated things it lacks (see `add_what_the_demo_lacks`) so that every kind of date,
time and datetime input meets a value, and a row for the editable admins it leaves empty. The demo
is loaded once for the module and everything is put back as it was afterwards. Admins are skipped,
with the reason in the summary (-ra), only when the HQ admin cannot change their objects or there are
none. Left out of the comparison: the fields Django sets on every save (auto_now, listed in
SAVE_TIMESTAMPS) and a segment's count, which saving it counts again (RECOUNTED_ON_SAVE).
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.test import RequestFactory
from django.test.utils import override_settings
from django.urls import reverse

from members.selectors import phone_q
from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db]

PASSWORD = "unchanged-saves-2026"
LOCALES = {"zh-hans": "zh-CN", "en": "en-US"}
SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMINS = sorted(model._meta.label for model in admin.site._registry)
# Django sets these on every save; everything else must be as it was.
SAVE_TIMESTAMPS = sorted(
    f"{model._meta.label}.{field.name}"
    for model in admin.site._registry
    for field in model._meta.concrete_fields
    if getattr(field, "auto_now", False)
)
# campaigns.services.segments.segment_update counts the members again, as of the save.
RECOUNTED_ON_SAVE = ["campaigns.Segment.counted_at", "campaigns.Segment.member_count"]
TEMPORAL_FIELDS = ("DateField", "TimeField", "DateTimeField")
# Change forms whose date and time inputs are photographed (test-artifacts/screenshots/unchanged-save-*).
SHOWN = {"members.Member", "loyalty.EarningRule", "campaigns.Automation", "campaigns.CouponTemplate"}


@dataclass
class DemoSite:
    url: str
    pages: dict
    hq_admin: object
    chosen: dict  # model → pk of the object the dated extras added for it


def add_what_the_demo_lacks(marketer) -> dict:
    """A dated thing for each kind of date input the demo leaves empty; values with seconds where the
    input takes them, since a format that drops them changed the object on an unchanged save."""
    from django_celery_beat.models import ClockedSchedule, PeriodicTask, SolarSchedule

    from campaigns.models import Campaign, CouponTemplate, MallItem, Segment
    from loyalty.models import EarningRule

    def local(*args) -> datetime.datetime:
        return datetime.datetime(*args, tzinfo=SHANGHAI)

    rule = EarningRule.objects.create(
        name="12月会员日双倍",
        points_per_yuan=Decimal("1.00"),
        starts_on=datetime.date(2026, 12, 1),
        ends_on=datetime.date(2026, 12, 31),
        member_day_weekday=2,
        member_day_multiplier=Decimal("2"),
        is_active=False,
    )
    template = CouponTemplate.objects.create(
        name="双十二满200减30",
        kind=CouponTemplate.Kind.THRESHOLD_OFF,
        amount=Decimal("30.00"),
        threshold=Decimal("200.00"),
        valid_from=local(2026, 12, 12, 0, 0, 0),
        valid_until=local(2026, 12, 12, 23, 59, 59),
    )
    segment = Segment.objects.create(
        name="2026年上半年注册",
        rules=[{"field": "registered", "op": "between", "value": {"from": "2026-01-01", "to": "2026-06-30"}}],
        created_by=marketer,
    )
    # A draft, so that the HQ admin may change it; it starts a month after the run, whenever that is.
    starts = (datetime.datetime.now(tz=SHANGHAI) + datetime.timedelta(days=30)).replace(
        hour=10, minute=0, second=30, microsecond=0
    )
    campaign = Campaign.objects.create(
        name="元旦会员回馈",
        segment=segment,
        starts_at=starts,
        ends_at=starts + datetime.timedelta(days=3, hours=12),
        holdout_percent=Decimal("10.0"),
        points=50,
        created_by=marketer,
    )
    clocked = ClockedSchedule.objects.create(clocked_time=local(2026, 12, 31, 23, 59, 59))
    task = PeriodicTask.objects.create(
        name="年终积分提醒",
        task="loyalty.tasks.points_expiring_soon",
        clocked=clocked,
        one_off=True,
        start_time=local(2026, 12, 31, 20, 0, 15),
        expires=local(2027, 1, 1, 2, 0, 45),
    )
    # Admins the demo leaves empty: one row each, so that their change forms are saved too.
    MallItem.objects.create(name="保温杯", kind=MallItem.Kind.GIFT, points_price=1000, stock=10, cost=Decimal("25.00"))
    SolarSchedule.objects.create(event="sunrise", latitude=Decimal("31.23"), longitude=Decimal("121.47"))
    return {
        EarningRule: rule.pk,
        CouponTemplate: template.pk,
        Segment: segment.pk,
        Campaign: campaign.pk,
        ClockedSchedule: clocked.pk,
        PeriodicTask: task.pk,
    }


@pytest.fixture(scope="module")
def demo_site(django_db_setup, django_db_blocker, browser):
    from pytest_django.live_server_helper import LiveServer

    quick = override_settings(
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        },
    )
    quick.enable()
    contexts = []
    with django_db_blocker.unblock():
        # Put back afterwards what the other tests expect: the database as the migrations left it.
        migrated = connection.creation.serialize_db_to_string()
        server = LiveServer("localhost")
        try:
            call_command("demo", members=20, password=PASSWORD, verbosity=0)
            users = get_user_model().objects
            chosen = add_what_the_demo_lacks(users.get(username="marketer"))
            pages = {}
            for language, locale in LOCALES.items():
                context = browser.new_context(viewport={"width": 1024, "height": 768}, locale=locale)
                contexts.append(context)
                page = context.new_page()
                page.goto(f"{server.url}/admin/login/")
                page.fill("#id_username", "admin")
                page.fill("#id_password", PASSWORD)
                page.click("input[type=submit]")
                page.wait_for_selector("#site-name")
                pages[language] = page
            yield DemoSite(url=server.url, pages=pages, hq_admin=users.get(username="admin"), chosen=chosen)
        finally:
            for context in contexts:
                context.close()
            server.stop()
            call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)
            connection.creation.deserialize_db_from_string(migrated)
            _reset_sequences()
            quick.disable()


def _reset_sequences() -> None:
    # The rows put back keep their ids; PostgreSQL's sequences must start after them again.
    statements = connection.ops.sequence_reset_sql(no_style(), apps.get_models())
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def _temporal_score(model_admin, obj) -> int:
    return sum(
        1
        for field in type(obj)._meta.concrete_fields
        if field.get_internal_type() in TEMPORAL_FIELDS and field.editable and getattr(obj, field.attname) is not None
    )


def object_to_save(model_admin, request, chosen: dict):
    """The object whose change form the test saves, or None and why not: the one the extras added, or
    among the first rows the HQ admin may change, the one with the most dates and times filled in."""
    model = model_admin.model
    queryset = model_admin.get_queryset(request)
    if model in chosen:
        return queryset.get(pk=chosen[model]), None
    rows = list(queryset.order_by("pk")[:200])
    if not rows:
        return None, f"{model._meta.label}: no row in the demo"
    changeable = [obj for obj in rows if model_admin.has_change_permission(request, obj)]
    if not changeable:
        return None, f"{model._meta.label}: read-only for the HQ admin"
    return max(changeable, key=lambda obj: (_temporal_score(model_admin, obj), -obj.pk)), None


def snapshot(model, pk) -> dict:
    """The object's own fields as stored, and the ids of its many-to-many relations."""
    ignored = {
        name.rsplit(".", 1)[1]
        for name in (*SAVE_TIMESTAMPS, *RECOUNTED_ON_SAVE)
        if name.startswith(f"{model._meta.label}.")
    }
    fields = [f.attname for f in model._meta.concrete_fields if f.name not in ignored]
    row = model._base_manager.filter(pk=pk).values(*fields).get()
    obj = model._base_manager.get(pk=pk)
    for relation in model._meta.many_to_many:
        row[relation.name] = sorted(getattr(obj, relation.name).values_list("pk", flat=True))
    return row


def test_the_fields_left_out_of_the_comparison_are_only_those_django_sets_on_save():
    assert SAVE_TIMESTAMPS == [
        "analytics.ScoreSettings.updated_at",
        "campaigns.MessageTemplate.updated_at",
        "campaigns.Segment.updated_at",
        "django_celery_beat.PeriodicTask.date_changed",
        "loyalty.LoyaltySettings.updated_at",
        "loyalty.PointsAccount.updated_at",
        "loyalty.Wallet.updated_at",
        "members.Member.updated_at",
        "servicecards.CardSettings.updated_at",
    ]


@pytest.mark.parametrize("language", LOCALES)
@pytest.mark.parametrize("label", ADMINS)
def test_saving_a_change_form_unchanged_changes_nothing(demo_site, label, language):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    request = RequestFactory().get("/admin/")
    request.user = demo_site.hq_admin
    obj, why_not = object_to_save(model_admin, request, demo_site.chosen)
    if obj is None:
        pytest.skip(why_not)
    opts = model._meta
    key = getattr(obj, opts.pk.attname)  # not obj.pk: a token's admin pk is its user's
    before = snapshot(model, key)
    page = demo_site.pages[language]

    page.goto(demo_site.url + reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert page.get_attribute("html", "lang") == language
    if label in SHOWN:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.locator("input[type=date], input[type=time], input.vDateField").first.scroll_into_view_if_needed()
        page.screenshot(path=str(SCREENSHOTS / f"unchanged-save-{label}-{language}.png"))
    save = page.locator("input[name=_save]")
    assert save.count() == 1, f"{label}: the HQ admin may change #{obj.pk}, but its page has no Save button"
    with page.expect_navigation():
        save.click()

    errors = page.locator(".errornote, .errorlist li")
    if errors.count():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"unchanged-save-{label}-{language}.png"), full_page=True)
    assert errors.count() == 0, f"{label} #{obj.pk} refused an unchanged save: " + " | ".join(errors.all_inner_texts())
    after = snapshot(model, key)
    changed = {name: (before[name], after[name]) for name in before if before[name] != after[name]}
    assert not changed, f"{label} #{obj.pk}: saving unchanged changed (before, after) {changed}"


@pytest.mark.parametrize("language", LOCALES)
def test_the_tablet_keeps_the_dates_it_shows(demo_site, browser, language):
    """A birthday typed at registration survives a refused submit and is saved; the staff figures'
    period shown is the period sent again."""
    from members.models import Member

    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale=LOCALES[language])
    try:
        page = context.new_page()
        page.goto(f"{demo_site.url}/tablet/")
        page.fill("input[name=username]", "manager_bj")
        page.fill("input[name=password]", PASSWORD)
        page.click("button.primary")
        page.wait_for_url(f"{demo_site.url}/tablet/")
        assert page.get_attribute("html", "lang") == language

        phone = {"zh-hans": "13700001988", "en": "13700002988"}[language]
        page.goto(f"{demo_site.url}/tablet/register/")
        page.fill("input[name=phone]", phone)
        page.fill("input[name=name]", "林小雨")
        page.fill("input[name=birthday]", "1988-01-04")
        with page.expect_navigation():
            page.click("form[data-once] button[type=submit]")  # the terms are not ticked: refused
        assert page.input_value("input[name=birthday]") == "1988-01-04"
        page.check("input[name=terms]")
        with page.expect_navigation():
            page.click("form[data-once] button[type=submit]")
        assert Member.objects.get(phone_q(f"+86{phone}")).birthday == datetime.date(1988, 1, 4)

        page.goto(f"{demo_site.url}/tablet/staff-figures/?start=2026-11-03&end=2026-11-28")
        assert page.input_value("input[name=start]") == "2026-11-03"
        with page.expect_navigation():
            page.click("#period button")
        assert "start=2026-11-03&end=2026-11-28" in page.url
        assert "2026-11-03 – 2026-11-28" in page.inner_text("main")
    finally:
        context.close()
