"""No output of the product shows a member's full phone to someone whose role may not read it (DESIGN §4,
§5, §10): every back-office page and every file it hands out (CSV, XLSX, background export jobs, import
reports), every tablet page and every API answer, for the HQ admin (who reads full phones), the marketer
(never) and store staff (only the number they typed themselves).

The addresses come from Django's URL resolver. Each named URL has a rule below saying how to ask for it
(the admin's own model pages have one shared rule); a URL added later without a rule fails the test with
a message saying where to add one. Besides, every download a rendered page links to (dashboards' tables,
reports) is fetched and read too, so a new table or report is covered without a rule of its own.

A full phone is found the way a person would find one: 11 digits of a mainland mobile, alone or after
+86/0086/86, with or without spaces or dashes (139 1234 5678), in a page, a JSON answer, a CSV file or
the cells (and raw XML) of an XLSX workbook.
"""

import io
import json
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from html import unescape
from urllib.parse import unquote_plus

import openpyxl
import pytest
from django.contrib import admin
from django.core.cache import cache
from django.core.files import File
from django.db.models import ForeignKey, OneToOneField
from django.test import TestCase
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.dashboards import REGISTRY
from analytics.models import MemberScore
from campaigns.services.automations import automation_run
from loyalty.models import MemberStats, Tier
from loyalty.services import LineInput, TenderInput, sale_checkout, wallet_top_up
from members import export_jobs
from members.exports import member_export_columns
from members.imports.jobs import import_job_create, import_job_run
from members.models import ExportJob, ImportJob, Member
from tests.factories import MemberFactory
from tests.factories.campaigns import (
    AutomationFactory,
    CampaignFactory,
    CouponFactory,
    MallItemFactory,
    MessageFactory,
    MessageTemplateFactory,
    SegmentFactory,
)
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, RechargePackageFactory, TierFactory
from tests.members.import_support import write_csv

pytestmark = pytest.mark.django_db

MAIN = "+8613912345678"
FRIEND = "+8613687654321"
STRANGER = "+8615011112222"  # shops at store B only
PHONES = (MAIN, FRIEND, STRANGER)

_PHONE = re.compile(r"(?<![\d+])(?:(?:\+|00)?86[\s\-]?)?(1[3-9]\d)[\s\-]?(\d{4})[\s\-]?(\d{4})(?!\d)")


def full_phones_in(text: str) -> set[str]:
    """The members' phones (E.164) written out in full in `text`, however spaced."""
    found = {"+86" + "".join(match.groups()) for match in _PHONE.finditer(text)}
    return found & set(PHONES)


def _digits(e164: str) -> str:
    return e164[3:]


def _masked(e164: str) -> str:
    return _digits(e164)[:3] + "****" + _digits(e164)[-4:]


# --- what a persona asks ------------------------------------------------------------------------


@dataclass
class Ask:
    url: str
    method: str = "get"
    data: dict | None = None
    # The phones the persona typed into this request: showing those back to them is no leak (DESIGN §4).
    typed: frozenset[str] = frozenset()
    htmx: bool = False
    as_json: bool = False  # the API's POST bodies


@dataclass
class World:
    chain: object
    main: Member
    friend: Member
    stranger: Member
    sale: object
    template: object
    segment: object
    automation: object
    campaign: object
    import_job: ImportJob
    mall_item: object
    extra: dict = field(default_factory=dict)


# Personas by face. The HQ admin is the control: on the pages of SHOWS_MAIN they must find the full number.
BACK_OFFICE = ("hq_admin", "marketer")
TABLET = ("cashier_a", "manager_a")
API = ("hq_admin", "marketer", "cashier_a", "manager_a")
MAY_SEE_FULL = {"hq_admin"}


@dataclass(frozen=True)
class Rule:
    asks: Callable[[World], list[Ask]] | None
    personas: tuple[str, ...] = BACK_OFFICE
    skip: str = ""


def page(*urls: Callable[[World], str | Ask], personas=BACK_OFFICE) -> Rule:
    def asks(world):
        return [u if isinstance(u, Ask) else Ask(u) for u in (f(world) for f in urls)]

    return Rule(asks, personas)


def skip(reason: str) -> Rule:
    return Rule(None, skip=reason)


def _typed(e164: str) -> frozenset[str]:
    return frozenset({e164})


def _rid() -> str:
    return str(uuid.uuid4())


def _members_export(fmt: str) -> Callable[[World], Ask]:
    def ask(world):
        columns = [c.key for c in member_export_columns()]
        return Ask(
            reverse("admin:members_member_export"),
            "post",
            {"columns": columns, "fmt": fmt, "headers": "zh"},
        )

    return ask


def _ledger_export(name: str, fmt: str) -> Callable[[World], Ask]:
    def ask(world):
        today = timezone.localdate()
        data = {
            "start": (today - timedelta(days=30)).isoformat(),
            "end": today.isoformat(),
            "fmt": fmt,
            "headers": "zh",
        }
        return Ask(reverse(f"admin:loyalty_{name}_export"), "post", data)

    return ask


# Every named URL of the project → how to ask for it. The admin's model pages (changelist, add, change,
# delete, history) and app indexes are read by one shared rule (_model_pages).
RULES: dict[str, Rule] = {
    # --- the back office -------------------------------------------------------------------------
    "admin:index": page(lambda w: reverse("admin:index")),
    "admin:login": page(lambda w: reverse("admin:login")),
    "admin:logout": skip("a POST that ends the session; it shows no member"),
    "admin:password_change": page(lambda w: reverse("admin:password_change")),
    "admin:password_change_done": page(lambda w: reverse("admin:password_change_done")),
    "admin:autocomplete": page(
        lambda w: reverse("admin:autocomplete") + "?app_label=members&model_name=member&field_name=referrer&term=王"
    ),
    "admin:jsi18n": page(lambda w: reverse("admin:jsi18n")),
    "admin:view_on_site": skip("redirects to the object's own page, which is read on its own"),
    "admin:auth_user_password_change": page(
        lambda w: reverse("admin:auth_user_password_change", args=[w.chain.cashier_a.pk])
    ),
    "admin:members_member_360": page(lambda w: reverse("admin:members_member_360", args=[w.main.pk])),
    "admin:members_member_erase": page(lambda w: reverse("admin:members_member_erase", args=[w.main.pk])),
    # The page, and the member's data file it answers with (the HQ admin's alone: full phone).
    "admin:members_member_data": page(
        lambda w: reverse("admin:members_member_data", args=[w.main.pk]),
        lambda w: Ask(reverse("admin:members_member_data", args=[w.main.pk]), "post", {}),
    ),
    "admin:members_member_export": page(
        lambda w: reverse("admin:members_member_export"),
        _members_export("csv"),
        _members_export("xlsx"),
        lambda w: Ask(
            reverse("admin:members_member_export") + f"?ids={w.main.pk},{w.friend.pk}",
            "post",
            {"columns": ["phone", "referrer_phone"], "fmt": "csv", "headers": "en"},
        ),
    ),
    "admin:members_exportjob_progress": Rule(
        lambda w: [Ask(reverse("admin:members_exportjob_progress", args=[job.pk])) for job in ExportJob.objects.all()]
    ),
    "admin:members_exportjob_download": Rule(
        lambda w: [Ask(reverse("admin:members_exportjob_download", args=[job.pk])) for job in ExportJob.objects.all()]
    ),
    "admin:members_exportjob_retry": skip("a POST that answers with a redirect to the job's change page"),
    "admin:members_importjob_retry": skip("a POST that answers with a redirect to the job's change page"),
    "admin:members_importjob_upload": page(
        lambda w: reverse("admin:members_importjob_upload"),
        lambda w: reverse("admin:members_importjob_upload", args=["sales"]),
    ),
    "admin:members_importjob_template": page(
        lambda w: reverse("admin:members_importjob_template"),
        lambda w: reverse("admin:members_importjob_template", args=["sales"]),
    ),
    "admin:members_importjob_progress": page(
        lambda w: reverse("admin:members_importjob_progress", args=[w.import_job.pk])
    ),
    "admin:members_importjob_errors": page(lambda w: reverse("admin:members_importjob_errors", args=[w.import_job.pk])),
    "admin:loyalty_points_adjust": page(
        lambda w: reverse("admin:loyalty_points_adjust") + f"?member={w.main.code}",
        lambda w: Ask(reverse("admin:loyalty_points_adjust") + f"?member={_digits(MAIN)}", typed=_typed(MAIN)),
    ),
    "admin:loyalty_pointsentry_export": page(
        lambda w: reverse("admin:loyalty_pointsentry_export"),
        _ledger_export("pointsentry", "csv"),
        _ledger_export("pointsentry", "xlsx"),
    ),
    "admin:loyalty_walletentry_export": page(
        lambda w: reverse("admin:loyalty_walletentry_export"),
        _ledger_export("walletentry", "csv"),
        _ledger_export("walletentry", "xlsx"),
    ),
    "admin:loyalty_recharge_report": page(lambda w: reverse("admin:loyalty_recharge_report")),
    "admin:loyalty_downgrade_risk": page(lambda w: reverse("admin:loyalty_downgrade_risk")),
    "admin:campaigns_automation_switch": skip("a POST that answers with a redirect to the change page"),
    "admin:campaigns_automation_run": skip("a POST that answers with a redirect to the effects page"),
    "admin:campaigns_automation_dry_run": page(
        lambda w: reverse("admin:campaigns_automation_dry_run", args=[w.automation.pk])
    ),
    "admin:campaigns_automation_effects": page(
        lambda w: reverse("admin:campaigns_automation_effects", args=[w.automation.pk])
    ),
    "admin:campaigns_automation_effect": page(
        lambda w: reverse("admin:campaigns_automation_effect", args=[w.automation.pk])
    ),
    "admin:campaigns_campaign_effect": page(lambda w: reverse("admin:campaigns_campaign_effect", args=[w.campaign.pk])),
    "admin:campaigns_campaign_schedule": skip("a POST that answers with a redirect to the change page"),
    "admin:campaigns_campaign_launch": skip("a POST that answers with a redirect to the change page"),
    "admin:campaigns_campaign_cancel": skip("a POST that answers with a redirect to the change page"),
    "admin:campaigns_coupon_issue": page(
        lambda w: reverse("admin:campaigns_coupon_issue"),
        lambda w: Ask(
            reverse("admin:campaigns_coupon_issue"),
            "post",
            {
                "template": w.extra["coupon_template"].pk,
                "member": _digits(FRIEND),
                "issue_anyway": "on",
                "request_id": _rid(),
            },
            typed=_typed(FRIEND),
        ),
    ),
    "admin:campaigns_messagetemplate_preview": page(
        lambda w: reverse("admin:campaigns_messagetemplate_preview", args=[w.template.pk]) + f"?member={w.main.code}",
        lambda w: Ask(
            reverse("admin:campaigns_messagetemplate_preview", args=[w.template.pk]) + f"?member={_digits(FRIEND)}",
            typed=_typed(FRIEND),
        ),
        lambda w: Ask(
            reverse("admin:campaigns_messagetemplate_preview", args=[w.template.pk]),
            "post",
            {"member": _digits(FRIEND), "show": "1"},
            typed=_typed(FRIEND),
        ),
    ),
    "admin:campaigns_segment_count": page(
        lambda w: Ask(reverse("admin:campaigns_segment_count"), "post", {"rows": "1", "field_1": "tier"})
    ),
    "admin:campaigns_segment_preview": page(lambda w: reverse("admin:campaigns_segment_preview", args=[w.segment.pk])),
    "admin:campaigns_segment_recount": skip("a POST that answers with a redirect to the preview"),
    "admin:campaigns_segment_export": page(
        lambda w: Ask(
            reverse("admin:campaigns_segment_export", args=[w.segment.pk]), "post", {"fmt": "csv", "headers": "zh"}
        ),
        lambda w: Ask(
            reverse("admin:campaigns_segment_export", args=[w.segment.pk]), "post", {"fmt": "xlsx", "headers": "en"}
        ),
    ),
    "admin:analytics_memberscore_csv": page(
        lambda w: reverse("admin:analytics_memberscore_csv"),
        lambda w: reverse("admin:analytics_memberscore_csv") + "?format=xlsx",
        lambda w: reverse("admin:analytics_memberscore_csv") + "?churn_level__exact=high&format=csv",
    ),
    "analytics_dashboards": page(lambda w: reverse("analytics_dashboards")),
    "analytics_dashboard": Rule(lambda w: [Ask(reverse("analytics_dashboard", args=[slug])) for slug in REGISTRY]),
    "set_language": skip("a POST that sets the language and redirects"),
    "healthz": page(lambda w: reverse("healthz")),
    # --- the store tablet --------------------------------------------------------------------------
    "tablet:login": page(lambda w: reverse("tablet:login"), personas=TABLET),
    "tablet:logout": skip("ends the session; it shows no member"),
    "tablet:choose-store": page(lambda w: reverse("tablet:choose-store"), personas=TABLET),
    "tablet:offline": page(lambda w: reverse("tablet:offline"), personas=TABLET),
    "tablet:service-worker": page(lambda w: reverse("tablet:service-worker"), personas=TABLET),
    "tablet:manifest": page(lambda w: reverse("tablet:manifest"), personas=TABLET),
    "tablet:find": page(
        lambda w: reverse("tablet:find"),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": "王"}),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": "李"}),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": "139"}),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": w.main.code}),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": "王"}, htmx=True),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": _digits(MAIN)}, typed=_typed(MAIN)),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": "+86 " + _digits(FRIEND)}, typed=_typed(FRIEND), htmx=True),
        lambda w: Ask(reverse("tablet:find"), "post", {"q": "13700000000"}, htmx=True),  # "Register this number"
        personas=TABLET,
    ),
    "tablet:register": page(
        lambda w: reverse("tablet:register"),
        lambda w: Ask(reverse("tablet:register"), "post", {"prefill": "1", "phone": _digits(MAIN)}, typed=_typed(MAIN)),
        lambda w: Ask(
            reverse("tablet:register"), "post", {"phone": _digits(FRIEND), "name": "李娜"}, typed=_typed(FRIEND)
        ),
        personas=TABLET,
    ),
    "tablet:member": page(
        lambda w: reverse("tablet:member", args=[w.main.code]),
        lambda w: reverse("tablet:member", args=[w.friend.code]),
        lambda w: reverse("tablet:member", args=[w.stranger.code]),
        lambda w: Ask(reverse("tablet:member", args=[_digits(MAIN)]), typed=_typed(MAIN)),
        personas=TABLET,
    ),
    "tablet:top-up": page(lambda w: reverse("tablet:top-up", args=[w.main.code]), personas=TABLET),
    "tablet:adjust": page(lambda w: reverse("tablet:adjust", args=[w.main.code]), personas=TABLET),
    "tablet:sell": page(
        lambda w: reverse("tablet:sell"),
        lambda w: reverse("tablet:sell") + f"?member={w.main.code}",
        lambda w: Ask(reverse("tablet:sell") + f"?member={_digits(FRIEND)}", typed=_typed(FRIEND)),
        personas=TABLET,
    ),
    "tablet:sales": page(
        lambda w: reverse("tablet:sales"),
        lambda w: reverse("tablet:sales") + f"?q={w.main.code}",
        lambda w: Ask(reverse("tablet:sales"), "post", {"q": w.main.code}),
        lambda w: Ask(reverse("tablet:sales"), "post", {"q": _digits(MAIN)}, typed=_typed(MAIN)),
        personas=TABLET,
    ),
    "tablet:receipt": page(lambda w: reverse("tablet:receipt", args=[w.sale.pk]), personas=TABLET),
    "tablet:refund": page(lambda w: reverse("tablet:refund", args=[w.sale.pk]), personas=TABLET),
    "tablet:today": page(lambda w: reverse("tablet:today"), personas=TABLET),
    "tablet:reviews": page(lambda w: reverse("tablet:reviews"), personas=TABLET),
    "tablet:staff-figures": page(lambda w: reverse("tablet:staff-figures"), personas=TABLET),
    # --- the API -----------------------------------------------------------------------------------
    "api-schema": page(lambda w: reverse("api-schema"), personas=("marketer", "cashier_a")),
    "api-docs": page(lambda w: reverse("api-docs"), personas=("marketer", "cashier_a")),
    "members-api:member-register": page(
        lambda w: Ask(
            reverse("members-api:member-register"),
            "post",
            {"phone": f"+86 177 {uuid.uuid4().int % 10**8:08d}", "name": "赵敏", "store": "SH001"},
            as_json=True,
        ),
        lambda w: Ask(
            reverse("members-api:member-register"),
            "post",
            {"phone": "150 1111 2222", "name": "赵敏", "store": "SH001"},
            typed=_typed(STRANGER),
            as_json=True,
        ),
        personas=API,
    ),
    "members-api:member-lookup": page(
        lambda w: Ask(reverse("members-api:member-lookup"), "post", {"q": "王"}, as_json=True),
        lambda w: Ask(reverse("members-api:member-lookup"), "post", {"q": "1"}, as_json=True),
        lambda w: reverse("members-api:member-lookup") + f"?q={w.main.code}",
        lambda w: reverse("members-api:member-lookup") + f"?q={w.main.qr_payload()}",
        lambda w: Ask(
            reverse("members-api:member-lookup"), "post", {"q": _digits(MAIN)}, typed=_typed(MAIN), as_json=True
        ),
        personas=API,
    ),
    "members-api:member-detail": page(
        lambda w: reverse("members-api:member-detail", args=[w.main.code]),
        lambda w: reverse("members-api:member-detail", args=[w.friend.code]),
        personas=API,
    ),
    "loyalty-api:sale-checkout": page(
        lambda w: Ask(
            reverse("loyalty-api:sale-checkout"),
            "post",
            {
                "request_id": _rid(),
                "store": "SH001",
                "member": w.main.code,
                "lines": [{"category": "饮品", "quantity": "1", "unit_price": "30.00"}],
                "tenders": [{"kind": "cash", "amount": "30.00"}],
            },
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:sale-quote": page(
        lambda w: Ask(
            reverse("loyalty-api:sale-quote"),
            "post",
            {
                "store": "SH001",
                "member": w.main.code,
                "lines": [{"category": "饮品", "quantity": "1", "unit_price": "30.00"}],
            },
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:sale-refund": page(
        lambda w: Ask(
            reverse("loyalty-api:sale-refund", args=[w.sale.pk]),
            "post",
            {"request_id": _rid(), "store": "SH001", "amount": "1.00", "reason": "顾客退货"},
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:wallet-topup": page(
        lambda w: Ask(
            reverse("loyalty-api:wallet-topup"),
            "post",
            {"request_id": _rid(), "member": _digits(MAIN), "store": "SH001", "amount": "50.00", "tender": "cash"},
            typed=_typed(MAIN),
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:wallet-refund": page(
        lambda w: Ask(
            reverse("loyalty-api:wallet-refund"),
            "post",
            {"request_id": _rid(), "member": w.main.code, "store": "SH001", "reason": "顾客要求"},
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:points-adjustment": page(
        lambda w: Ask(
            reverse("loyalty-api:points-adjustment"),
            "post",
            {"request_id": _rid(), "member": w.main.code, "store": "SH001", "points": 5, "reason": "补录"},
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:points-event": page(
        lambda w: Ask(
            reverse("loyalty-api:points-event"),
            "post",
            {"request_id": _rid(), "member": w.main.code, "kind": "review", "external_id": _rid()},
            as_json=True,
        ),
        personas=API,
    ),
    "loyalty-api:member-sign-in": page(
        lambda w: Ask(
            reverse("loyalty-api:member-sign-in", args=[w.main.code]), "post", {"store": "SH001"}, as_json=True
        ),
        personas=API,
    ),
    "campaigns-api:member-opt-out": page(
        lambda w: Ask(
            reverse("campaigns-api:member-opt-out", args=[w.friend.code]), "post", {"channel": "sms"}, as_json=True
        ),
        personas=API,
    ),
    "campaigns-api:opt-out": page(
        lambda w: Ask(reverse("campaigns-api:opt-out"), "post", {"member": w.friend.code}, as_json=True),
        personas=API,
    ),
    "campaigns-api:coupon-issue": page(
        lambda w: Ask(
            reverse("campaigns-api:coupon-issue"),
            "post",
            {"request_id": _rid(), "template": w.extra["coupon_template"].pk, "member": w.main.code},
            as_json=True,
        ),
        personas=API,
    ),
    "campaigns-api:mall-items": page(
        lambda w: reverse("campaigns-api:mall-items") + f"?member={w.main.code}&store=SH001", personas=API
    ),
    "campaigns-api:mall-order": page(
        lambda w: Ask(
            reverse("campaigns-api:mall-order"),
            "post",
            {"request_id": _rid(), "member": w.main.code, "item": w.mall_item.pk, "store": "SH001"},
            as_json=True,
        ),
        personas=API,
    ),
    "campaigns-api:mall-order-hand-over": skip("answers with the order (member code, no phone); read via mall-order"),
    # Service cards: the tablet's pages of the main member's card, and the card API (member codes, no phones).
    "tablet:card-sell": page(lambda w: reverse("tablet:card-sell", args=[w.main.code]), personas=TABLET),
    "tablet:card-uses-today": page(lambda w: reverse("tablet:card-uses-today"), personas=TABLET),
    "tablet:card-use-done": page(
        lambda w: reverse("tablet:card-use-done", args=[w.extra["card_use"].pk]), personas=TABLET
    ),
    "tablet:card-use-reverse": page(
        lambda w: reverse("tablet:card-use-reverse", args=[w.extra["card_use"].pk]), personas=TABLET
    ),
    "tablet:card": page(lambda w: reverse("tablet:card", args=[w.extra["card"].code]), personas=TABLET),
    "tablet:card-use": page(lambda w: reverse("tablet:card-use", args=[w.extra["card"].code]), personas=TABLET),
    "tablet:card-use-code": skip("sends the member a code (htmx) and answers a line of status without the member"),
    "tablet:card-freeze": page(lambda w: reverse("tablet:card-freeze", args=[w.extra["card"].code]), personas=TABLET),
    "tablet:card-unfreeze": skip("a POST that unfreezes and redirects to the card page, read above"),
    "tablet:card-extend": page(lambda w: reverse("tablet:card-extend", args=[w.extra["card"].code]), personas=TABLET),
    "tablet:card-transfer": page(
        lambda w: reverse("tablet:card-transfer", args=[w.extra["card"].code]), personas=TABLET
    ),
    "tablet:card-refund": page(lambda w: reverse("tablet:card-refund", args=[w.extra["card"].code]), personas=TABLET),
    "servicecards-api:card-products": page(
        lambda w: reverse("servicecards-api:card-products") + "?store=SH001", personas=API
    ),
    "servicecards-api:card-detail": page(
        lambda w: reverse("servicecards-api:card-detail", args=[w.extra["card"].code]), personas=API
    ),
    "servicecards-api:member-cards": page(
        lambda w: reverse("servicecards-api:member-cards", args=[w.main.code]), personas=API
    ),
    "servicecards-api:member-service-history": page(
        lambda w: reverse("servicecards-api:member-service-history", args=[w.main.code]), personas=API
    ),
    "servicecards-api:card-sale": skip(
        "answers with the sale and the card (member code, no phone); read via card-detail"
    ),
    "servicecards-api:card-use": skip("answers with the use entry (card number, no member); read via card-detail"),
    "servicecards-api:card-use-reversal": skip("answers with the reversal entry, no member; read via card-detail"),
    "servicecards-api:card-refund": skip("answers with the refund (amounts, no member); read via card-detail"),
    "servicecards-api:member-appointments": page(
        lambda w: reverse("servicecards-api:member-appointments", args=[w.main.code]), personas=API
    ),
    "servicecards-api:store-slots": skip("a store's free times and staff: no member"),
    "servicecards-api:appointment-book": skip("answers with the appointment (member code, no phone)"),
    "servicecards-api:appointment-cancel": skip("answers with the appointment (member code, no phone)"),
    "servicecards-api:appointment-no-show": skip("answers with the appointment (member code, no phone)"),
    "campaigns-api:mall-order-cancel": skip("answers with the order (member code, no phone); read via mall-order"),
    "campaigns-api:campaign-effect": page(
        lambda w: reverse("campaigns-api:campaign-effect", args=[w.campaign.pk]), personas=API
    ),
}

# Routes without a name: the site root's redirect and the admin's catch-all (a 404 or a redirect to login).
UNNAMED = {"", "admin/(?P<url>.*)$"}

# Outputs where the HQ admin must find the main member's full number: proof that the test read them.
SHOWS_MAIN = {
    "admin:members_member_changelist",
    "admin:members_member_change",
    "admin:members_member_360",
    "admin:members_member_data",
    "admin:members_member_export",
    "admin:members_exportjob_download",
    "admin:loyalty_downgrade_risk",
    "admin:loyalty_pointsentry_export",
    "admin:loyalty_walletentry_export",
    "admin:analytics_memberscore_changelist",
    "admin:analytics_memberscore_csv",
    "admin:campaigns_coupon_changelist",
    "admin:campaigns_message_changelist",
    "admin:campaigns_message_change",
    "admin:campaigns_messagetemplate_preview",
    "admin:campaigns_segment_preview",
    "admin:campaigns_automation_effects",
    "members-api:member-detail",
    "members-api:member-lookup",
}
# Where store staff typed the main member's full number and must read it back.
TYPED_SHOWS_MAIN = {"tablet:find", "members-api:member-lookup"}

_MODEL_PAGE = re.compile(r"^admin:\w+_(changelist|add|change|delete|history)$")


def _patterns(patterns, prefix="", namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), (namespace + pattern.name) if pattern.name else None


def _object_for(model, member):
    """An object of `model` about the main member where there is one (its own row, its coupon …)."""
    if model._meta.label == "members.Member":
        return member
    for f in model._meta.get_fields():
        if isinstance(f, ForeignKey | OneToOneField) and f.related_model._meta.label == "members.Member":
            found = model._default_manager.filter(**{f.name: member}).first()
            if found is not None:
                return found
    return model._default_manager.order_by("pk").first()


def _model_pages(name: str, world: World) -> list[Ask]:
    view = _MODEL_PAGE.match(name).group(1)
    model = next(
        (m for m in admin.site._registry if name == f"admin:{m._meta.app_label}_{m._meta.model_name}_{view}"), None
    )
    assert model is not None, f"{name}: no registered model has this page"
    if view in ("changelist", "add"):
        asks = [Ask(reverse(name))]
        if model is Member and view == "changelist":
            # Searches: by a name, by a code, by the start of a number, and by a number typed in full.
            # The search box POSTs and the list follows at an address with a token for the search.
            asks += [
                Ask(reverse(name), "post", {"q": "王"}),
                Ask(reverse(name), "post", {"q": world.main.code}),
                Ask(reverse(name), "post", {"q": "1391"}),
                Ask(reverse(name), "post", {"q": _digits(FRIEND)}, typed=_typed(FRIEND)),
            ]
        return asks
    obj = _object_for(model, world.main)
    return [Ask(reverse(name, args=[obj.pk]))] if obj is not None else []


def _outputs(world: World) -> list[tuple[str, Rule, Callable[[], list[Ask]]]]:
    """(url name, its rule, what to ask) for every URL of the project; a URL without a rule fails here.
    What to ask is worked out when it is asked: the export jobs to download are the ones made by then."""
    outputs, missing = [], []
    for route, name in _patterns(get_resolver().url_patterns):
        if name is None:
            if route.startswith("admin/") and route.endswith("/<path:object_id>/"):
                continue  # the admin's old address of a change page: a redirect to it
            assert route in UNNAMED, f"the URL {route!r} has no name: name it, or list it in UNNAMED"
            continue
        if name == "admin:app_list":
            labels = sorted({m._meta.app_label for m in admin.site._registry})
            outputs.append(
                (name, Rule(None), lambda labels=labels: [Ask(reverse("admin:app_list", args=[lb])) for lb in labels])
            )
            continue
        rule = RULES.get(name)
        if rule is None and _MODEL_PAGE.match(name):
            rule = Rule(None)
            outputs.append((name, rule, lambda name=name: _model_pages(name, world)))
            continue
        if rule is None:
            missing.append(name)
            continue
        if rule.skip:
            continue
        outputs.append((name, rule, lambda rule=rule: rule.asks(world)))
    assert not missing, (
        f"URLs with no rule in {__name__}.RULES: {missing}. Add how to ask for each (GET, POST with data, the "
        "phones the user typed), or skip(reason) if it shows no member, so its output is checked for full phones."
    )
    return outputs


# --- reading what came back ---------------------------------------------------------------------


def _content(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def _text(response) -> str:
    """Everything a person could read in the answer: the page, the JSON, the CSV, or an XLSX's cells."""
    content = _content(response)
    if content[:2] == b"PK":
        return _xlsx_text(content)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        pytest.fail(f"an answer that is neither text nor a workbook: {response['Content-Type']}")
    if response.get("Content-Type", "").startswith("application/json"):
        # JSON may escape what it carries (\u002b86…).
        text += "\n" + json.dumps(json.loads(text), ensure_ascii=False)
    return text


def _xlsx_text(content: bytes) -> str:
    parts = []
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if name.endswith(".xml"):
                parts.append(archive.read(name).decode("utf-8"))
    workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                # A number stored as a number still reads as a phone in the cell (1.3912345678E10 in the XML).
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                parts.append("" if value is None else str(value))
    return "\n".join(parts)


_DOWNLOAD_LINK = re.compile(r'href="(/[^"]*(?:[?&](?:amp;)?format=[^"]*|/csv/[^"]*|/download/[^"]*|/errors/[^"]*))"')


def _downloads_linked(body: str) -> set[str]:
    return {unescape(link) for link in _DOWNLOAD_LINK.findall(body)}


# --- addresses: no phone and no name in any of them (DESIGN §10) --------------------------------

# Every attribute a page can hold an address in, htmx's included.
_URL_ATTRIBUTE = re.compile(
    r'(?:href|action|src|formaction|hx-get|hx-post|hx-put|hx-patch|hx-delete|hx-push-url|data-href|data-url)="([^"]*)"'
)
_URL_IN_JSON = re.compile(r'"((?:/|https?://)[^"\s]*)"')
NAMES = ("王芳", "李娜", "赵敏")


def _urls_in(response) -> list[str]:
    """The addresses an answer gives: its redirect headers, and the links, forms and htmx requests of a
    page (or the URLs in a JSON answer)."""
    urls = [response[h] for h in ("Location", "HX-Redirect", "HX-Location", "HX-Push-Url") if response.has_header(h)]
    content_type = response.get("Content-Type", "")
    if getattr(response, "streaming", False) or not (
        content_type.startswith("text/html") or content_type.startswith("application/json")
    ):
        return urls
    text = response.content.decode("utf-8", errors="replace")
    pattern = _URL_ATTRIBUTE if content_type.startswith("text/html") else _URL_IN_JSON
    return urls + [unescape(url) for url in pattern.findall(text)]


def personal_data_in_url(url: str) -> set[str]:
    """The members' full phones and names an address carries, however encoded (%2B86…, %E7%8E%8B…)."""
    plain = unquote_plus(unquote_plus(url))
    return full_phones_in(plain) | {name for name in NAMES if name in plain}


# --- the world -----------------------------------------------------------------------------------


@pytest.fixture
def world(chain, settings, tmp_path, monkeypatch, celery_broker) -> World:
    """Members who appear on as many outputs as the product has: a tier they may lose, coupons, an SMS, a
    churn score, a friend they referred, sales and top-ups in both ledgers, a campaign, an automation that
    reached them, an import whose error report names a phone, and export jobs written in the background."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MESSAGE_FILE_PATH = tmp_path / "outbox.jsonl"
    cache.clear()
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    silver = TierFactory(code="SILVER", name="银卡", rank=1, threshold=Decimal("1000.00"))
    TierFactory(code="GOLD", name="金卡", rank=2, threshold=Decimal("5000.00"))
    main = MemberFactory(
        phone=MAIN, name="王芳", store=chain.store_a, marketing_consent=True, birthday=timezone.localdate()
    )
    friend = MemberFactory(phone=FRIEND, name="李娜", referrer=main, store=chain.store_a)
    stranger = MemberFactory(phone=STRANGER, name="赵敏", store=chain.store_b)
    sale = sale_checkout(
        request_id=_rid(),
        store=chain.store_a,
        cashier=chain.cashier_a,
        member=main,
        lines=[LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal("120.00"))],
        tenders=[TenderInput("cash", Decimal("120.00"))],
    )
    wallet_top_up(
        request_id=_rid(),
        member=main,
        store=chain.store_a,
        staff=chain.cashier_a,
        tender="cash",
        package=RechargePackageFactory(),
        amount=None,
    )
    MemberStats.objects.filter(member=main).update(tier=silver, tier_since=timezone.now() - timedelta(days=800))
    coupon = CouponFactory(member=main)
    MessageFactory(member=main)
    MemberScore.objects.create(
        member=main,
        as_of=timezone.localdate(),
        recency_days=200,
        frequency=2,
        monetary=Decimal("300.00"),
        r_score=1,
        f_score=2,
        m_score=2,
        segment="at_risk",
        p_alive=0.2,
        expected_purchases_90d=0.1,
        churn_level="high",
        churn_reason="long_inactive",
    )
    segment = SegmentFactory(created_by=chain.marketer)
    campaign = CampaignFactory(segment=segment, created_by=chain.marketer)
    # A service card of the main member, with a use: the card lists and their search show the member
    from tests.factories.servicecards import CardProductFactory, card_use_entry, member_card

    card = member_card(main, CardProductFactory(), chain.store_a)
    card_use = card_use_entry(card, at=timezone.now(), store=chain.store_a, recorded_by=chain.cashier_a)
    automation = AutomationFactory(created_by=chain.marketer, days=0)
    automation_run(automation)
    template = MessageTemplateFactory(name="短信", body="{name}您好")
    mall_item = MallItemFactory(points_price=10)
    assert Tier.objects.count() == 2

    # An import by the HQ admin whose error report echoes a row with the friend's number.
    csv = write_csv(tmp_path / "bad.csv", [[_digits(FRIEND), "李娜", "不男不女", *[""] * 8]])
    with csv.open("rb") as upload:
        import_job = import_job_create(
            actor=chain.hq_admin,
            upload=File(upload, name="bad.csv"),
            mode="skip_bad_rows",
            dry_run=True,
            language="zh-hans",
        )
    import_job_run(job_id=import_job.pk)
    import_job.refresh_from_db()
    assert import_job.rejected_count == 1

    # Every export runs as a background job here, so the jobs' files are downloaded too.
    monkeypatch.setattr(export_jobs, "STREAM_MAX_ROWS", {"csv": 0, "xlsx": 0})
    world = World(
        chain=chain,
        main=main,
        friend=friend,
        stranger=stranger,
        sale=sale,
        template=template,
        segment=segment,
        automation=automation,
        campaign=campaign,
        import_job=import_job,
        mall_item=mall_item,
        extra={"coupon_template": coupon.template, "card": card, "card_use": card_use},
    )
    return world


# --- the test ------------------------------------------------------------------------------------


def _client_for(world: World, persona: str, face: str):
    user = getattr(world.chain, persona)
    if face == "api":
        client = APIClient()
        client.force_login(user)  # the tablet's and a marketer's browser session
    else:
        from django.test import Client

        client = Client()
        client.force_login(user)
    if persona in TABLET:
        session = client.session
        session["tablet_store_id"] = world.chain.store_a.pk
        session.save()
    return client


def _send(client, ask: Ask):
    headers = {"HTTP_HX_REQUEST": "true"} if ask.htmx else {}
    # Export jobs start when their transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True):
        if ask.method == "get":
            return client.get(ask.url, **headers)
        if ask.as_json:
            return client.post(ask.url, ask.data, format="json", **headers)
        return client.post(ask.url, ask.data or {}, **headers)


def _face(name: str) -> str:
    return "api" if "-api:" in name or name.startswith("api-") else "web"


def test_no_output_shows_a_full_phone_to_a_role_that_may_not_read_it(world):
    outputs = _outputs(world)
    assert len(outputs) > 100  # the resolver was read: every model's pages, the custom views, tablet and API
    seen_full: dict[str, set[str]] = {}
    read = 0
    for persona in ("hq_admin", "marketer", "cashier_a", "manager_a"):
        clients = {face: _client_for(world, persona, face) for face in ("web", "api")}
        fetched: set[str] = set()
        for name, rule, asks in outputs:
            if persona not in rule.personas:
                continue
            client = clients[_face(name)]
            queue = [(name, ask) for ask in asks()]
            while queue:
                label, ask = queue.pop(0)
                response = _send(client, ask)
                # What the product hands out: its links, forms, htmx requests and redirects (some rules
                # here ask with a phone in the address on purpose, to see what an old link gets).
                in_urls = {url: found for url in _urls_in(response) if (found := personal_data_in_url(url))}
                assert not in_urls, f"{label} ({ask.method.upper()} {ask.url}): a phone or a name in a URL {in_urls}"
                if response.status_code in (301, 302) and ask.method == "post":
                    location = response["Location"]
                    if location.startswith("/") and "/login/" not in location:
                        queue.append((label, Ask(location, typed=ask.typed)))
                    continue
                if response.status_code >= 300 and response.status_code != 400:
                    continue
                text = _text(response)
                read += 1
                if persona == "hq_admin" and ask.method == "post" and 'class="errorlist' in text:
                    pytest.fail(f"{label}: the form refused the POST of {ask.data}; correct the rule")
                shown = full_phones_in(text)
                if persona not in MAY_SEE_FULL:
                    leaked = shown - ask.typed
                    assert not leaked, f"{label} ({ask.method.upper()} {ask.url}) shows {persona} full phones {leaked}"
                else:
                    masked = {phone for phone in PHONES if _masked(phone) in text}
                    assert not masked, f"{label} ({ask.url}) masks {masked} for {persona}, who may read them"
                if MAIN in shown:
                    # Under the name of what was asked, and of the file a page led to.
                    seen_full.setdefault(persona, set()).update(
                        {label.split(" → ")[0], resolve(ask.url.split("?")[0]).view_name}
                    )
                if response.get("Content-Type", "").startswith("text/html"):
                    for link in _downloads_linked(text) - fetched:
                        fetched.add(link)
                        queue.append((f"{label} → {link}", Ask(link)))
    assert read > 250
    assert seen_full["hq_admin"] >= SHOWS_MAIN, (
        f"outputs that did not show the member: {SHOWS_MAIN - seen_full['hq_admin']}"
    )
    for persona in TABLET:
        assert seen_full[persona] >= TYPED_SHOWS_MAIN, f"{persona} did not read back the number they typed"


def test_the_address_finder_reads_phones_and_names_however_encoded():
    for url in (
        "/tablet/?q=13912345678",
        "/admin/members/member/?q=%2B86%20139%201234%205678",
        "/api/v1/members/+8613912345678/",
        "/admin/members/member/?_changelist_filters=q%3D%25E7%258E%258B%25E8%258A%25B3",
        "/tablet/register/?phone=139-1234-5678",
    ):
        assert personal_data_in_url(url), url
    for url in ("/admin/members/member/?q=~Zk3x9Qm2Lp0aB7cD", "/api/v1/members/9000000006/", "/tablet/m/9000000006/"):
        assert personal_data_in_url(url) == set(), url


def test_the_phone_finder_reads_every_way_of_writing_a_number():
    for written in (
        "13912345678",
        "139 1234 5678",
        "139-1234-5678",
        "+86 139 1234 5678",
        "+8613912345678",
        "008613912345678",
        "86-13912345678",
        "<td>139 1234-5678</td>",
    ):
        assert full_phones_in(written) == {MAIN}, written
    for other in ("139****5678", "139123456789", "2139123456780", "1391234567", "+8513912345678"):
        assert full_phones_in(other) == set(), other
