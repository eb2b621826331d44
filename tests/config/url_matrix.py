"""The machinery of tests/config/test_role_url_matrix.py: every URL pattern from Django's resolver, the
table of expected access, a world with an object of every kind at two stores, one request per pattern,
persona and object, and the answer read as an outcome.

Nothing here asks the code's own permission functions who may do what: the table in the test says it,
the requests find out.
"""

import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from fnmatch import fnmatchcase
from urllib.parse import urlencode, urlsplit

from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, SolarSchedule

from analytics.dashboards import REGISTRY
from analytics.services import score_members
from campaigns.services.mall import mall_order_place
from loyalty.services import LineInput, TenderInput, points_adjust, sale_checkout, sale_refund, wallet_top_up
from members.export_jobs import export_job_create, export_job_run
from members.exports import member_export_prepare
from members.imports import jobs as import_jobs
from members.models import ExportJob, ImportJob, Member, MemberAccess
from tests.factories import MemberFactory
from tests.factories.campaigns import (
    AutomationFactory,
    CampaignFactory,
    CouponFactory,
    CouponTemplateFactory,
    MallItemFactory,
    MessageFactory,
    MessageTemplateFactory,
    SegmentFactory,
)
from tests.factories.loyalty import EarningRuleFactory, LoyaltySettingsFactory, RechargePackageFactory, TierFactory
from tests.factories.members import TagFactory
from tests.factories.stores import integration_token
from tests.members.import_support import HEADER_ZH

# --- outcomes --------------------------------------------------------------------------------------

OK = "ok"  # 2xx, or a redirect that is not to a login page: the persona reached it
LOGIN = "login"  # sent to a login page (admin or tablet), or 401 from the API
REFUSED = "refused"  # 403 or 404 (the tablet's refusal page answers one of them)
INVALID = "invalid"  # 400 or 409: reached the service, which turned the request down and wrote nothing
OUTCOMES = (OK, LOGIN, REFUSED, INVALID)

LOGIN_PATHS = ("/admin/login/", "/tablet/login/")


def outcome_of(response) -> str:
    status = response.status_code
    if status == 401:
        return LOGIN
    if status in REDIRECTS:
        return LOGIN if urlsplit(response["Location"]).path in LOGIN_PATHS else OK
    if 200 <= status < 300:
        return OK
    if status in (403, 404):
        return REFUSED
    if status in (400, 409):
        return INVALID
    return f"HTTP {status}"


REDIRECTS = (301, 302, 303, 307, 308)
ADMIN_MODEL_PAGE = re.compile(r"^/admin/\w+/\w+/")


# --- the patterns ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """One URL pattern (or one value of a pattern's fixed choice: an admin app, a dashboard)."""

    key: str  # "namespace:name", "name@choice", or "/route" (see project_patterns)
    name: str | None  # the name to reverse ("admin:app_list"), None when unnamed
    route: str  # the full route, for the unnamed ones and for messages
    kwargs: tuple[str, ...]  # the route's arguments
    fixed: dict = field(default_factory=dict, hash=False, compare=False)  # arguments set by the expansion


def _names(route: str) -> list[str]:
    """The arguments of a route: `<int:sale_id>`, or `(?P<app_label>…)` in a regex."""
    return [converter or group for converter, group in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)]


def _walk(patterns, prefix="", namespaces=()):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            spaces = namespaces + ((pattern.namespace,) if pattern.namespace else ())
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), spaces)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            name = ":".join((*namespaces, pattern.name)) if pattern.name else None
            yield name, route


OLD_CHANGE_ADDRESS = re.compile(r"^admin/(\w+)/(\w+)/<path:object_id>/$")


def project_patterns() -> list[Pattern]:
    """Every pattern Django resolves. A few are asked more than once, each under a key of its own:

    - the admin's app index once per app (`admin:app_list@members`) and each dashboard (`analytics_dashboard@rfm`);
    - each admin change page is read (GET, `admin:members_member_change`) and saved (an empty form sent
      with POST, `admin:members_member_change@save`);
    - the admin's old change address (`members/member/<id>/`, unnamed, it redirects to the change page) is
      `admin:members_member_change@old`; any other unnamed pattern is keyed by its route (`/admin/(?P<url>.*)$`).
    """
    found = []
    for name, route in _walk(get_resolver().url_patterns):
        kwargs = tuple(_names(route))
        if name == "admin:app_list":
            labels = re.search(r"\(\?P<app_label>([^)]*)\)", route).group(1).split("|")
            found += [Pattern(f"{name}@{label}", name, route, kwargs, {"app_label": label}) for label in labels]
        elif name == "analytics_dashboard":
            found += [Pattern(f"{name}@{slug}", name, route, kwargs, {"slug": slug}) for slug in REGISTRY]
        elif name is None and (old := OLD_CHANGE_ADDRESS.match(route)):
            found.append(Pattern(f"admin:{old[1]}_{old[2]}_change@old", None, route, kwargs))
        else:
            found.append(Pattern(name or "/" + route, name, route, kwargs))
            if name and name.startswith("admin:") and name.endswith("_change"):
                found.append(Pattern(f"{name}@save", name, route, kwargs))
    return found


# --- the table -------------------------------------------------------------------------------------

PERSONAS = ("anonymous", "cashier", "manager", "marketer", "hq_admin")


@dataclass(frozen=True)
class Row:
    glob: str  # as written: `*` any text, `{a,b}` either, ALIASES
    globs: tuple[str, ...]  # the braces expanded
    cells: dict  # persona → (outcome for the first object, outcome for the second)
    line: int


# Shorthands for an admin model's pages: reading them, and writing (the change page saved is `change@save`).
ALIASES = {
    "<read>": "{changelist,change,change@old,history}",
    "<write>": "{add,delete,change@save}",
    "<views>": "{changelist,change,change@old,history,add,delete,change@save}",
}


def expand_braces(glob: str) -> list[str]:
    """`a_{b,c}_<read>` → every glob it stands for (the aliases first, then the braces, innermost first)."""
    for alias, meaning in ALIASES.items():
        glob = glob.replace(alias, meaning)
    match = re.search(r"\{([^{}]*)\}", glob)
    if not match:
        return [glob]
    head, tail = glob[: match.start()], glob[match.end() :]
    expanded = [g for choice in match.group(1).split(",") for g in expand_braces(head + choice + tail)]
    return list(dict.fromkeys(expanded))


def parse_table(text: str) -> list[Row]:
    """Rows of `glob  cell×5`; a cell is an outcome, or `first/second` for the two objects; `#` comments."""
    rows = []
    for number, raw in enumerate(text.splitlines(), 1):
        parts = raw.partition("#")[0].split()
        if not parts:
            continue
        if len(parts) != 1 + len(PERSONAS):
            raise ValueError(f"table line {number} has {len(parts)} columns, not {1 + len(PERSONAS)}: {raw!r}")
        cells = {}
        for persona, cell in zip(PERSONAS, parts[1:], strict=True):
            first, _slash, second = cell.partition("/")
            second = second or first
            for outcome in (first, second):
                if outcome not in OUTCOMES:
                    raise ValueError(f"table line {number}: {outcome!r} is not one of {OUTCOMES}")
            cells[persona] = (first, second)
        rows.append(Row(parts[0], tuple(expand_braces(parts[0])), cells, number))
    return rows


def row_for(key: str, rows: list[Row]) -> Row | None:
    """The first row with a glob matching the key: the table is ordered specific-first."""
    return next((row for row in rows if any(fnmatchcase(key, glob) for glob in row.globs)), None)


def rowless(patterns: list[Pattern], rows: list[Row]) -> list[str]:
    """The patterns no row speaks for."""
    return [f"{p.key}  ({p.route})" for p in patterns if row_for(p.key, rows) is None]


def stale(patterns: list[Pattern], rows: list[Row]) -> list[str]:
    """The globs (a row's, or one choice of its braces) that decide no pattern: no URL takes them any more, or
    an earlier row hides them."""
    return [
        f"line {row.line}: {glob}"
        for row in rows
        for glob in row.globs
        if not any(fnmatchcase(p.key, glob) and row_for(p.key, rows) is row for p in patterns)
    ]


# --- asking ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ask:
    """One request: method, address and, for the API, a JSON body."""

    method: str
    url: str
    body: dict | None = None
    form: dict | None = None


def answer(client, request: Ask) -> str:
    """Send `request` as the client's persona and read the answer as an outcome, then undo whatever it
    wrote: the database in a savepoint rolled back, the cookies as they were (a logout, a language or a
    store chosen stay in this request).

    A page that redirects is followed (three hops at most) to what the persona ends up seeing; a form
    sent with POST is not. The admin sends a model page whose object is outside the persona's own rows
    to its index ("… doesn't exist"): that is a refusal.
    """
    cookies = copy.deepcopy(client.cookies)
    try:
        with transaction.atomic():
            outcome = _answer(client, request)
            transaction.set_rollback(True)
    finally:
        client.cookies = cookies
    return outcome


def _answer(client, request: Ask) -> str:
    if request.body is not None:
        response = client.generic(
            request.method, request.url, json.dumps(request.body), content_type="application/json"
        )
    elif request.method == "POST":
        response = client.post(request.url, request.form or {})
    else:
        response = client.get(request.url)
    url = request.url
    for _hop in range(3):
        if request.method != "GET" or response.status_code not in REDIRECTS:
            break
        target = urlsplit(response["Location"]).path
        if target in LOGIN_PATHS:
            return LOGIN
        if target == "/admin/" and ADMIN_MODEL_PAGE.match(url):
            return REFUSED
        url = target
        response = client.get(url)
    return outcome_of(response)


def rid() -> str:
    return str(uuid.uuid4())


def query(url: str, **params) -> str:
    return f"{url}?{urlencode(params)}"


# --- the world -------------------------------------------------------------------------------------


@dataclass
class World:
    chain: object
    member_a: object  # registered at store A
    member_b: object  # registered at store B
    sale_a: object
    sale_b: object
    order_a: object  # a gift to pick up at store A
    order_b: object  # at store B
    gift: object  # the mall item both ordered
    template: object  # a coupon template
    campaign: object
    export_marketer: object  # an export the marketer asked for (masked phones)
    export_admin: object  # an export the HQ admin asked for (full phones)
    service: object = None  # a service performed at both stores, all day
    appointment_a: object = None  # booked at store A, started an hour ago (cancel late, or a no-show)
    appointment_b: object = None  # the same at store B

    def store(self, side: int):
        return (self.chain.store_a, self.chain.store_b)[side]

    def member(self, side: int):
        return (self.member_a, self.member_b)[side]

    def sale(self, side: int):
        return (self.sale_a, self.sale_b)[side]

    def order(self, side: int):
        return (self.order_a, self.order_b)[side]

    def export(self, side: int):
        return (self.export_marketer, self.export_admin)[side]

    def appointment(self, side: int):
        return (self.appointment_a, self.appointment_b)[side]


def service_cards(chain, member_a, member_b) -> None:
    """Card configuration and a card of each member (their ledger made as card_sell leaves it)."""
    from servicecards.models import CardSettings, CommissionRule
    from tests.factories.servicecards import (
        CardProductFactory,
        RoomFactory,
        ServiceFactory,
        ServiceStaffFactory,
        WorkingHoursFactory,
        member_card,
    )

    CardSettings.current()
    service = ServiceFactory(code="WASH", name="洗护")
    product = CardProductFactory(code="WASH10", name="10次洗护卡", services=[service])
    staff = ServiceStaffFactory(services=[service])
    WorkingHoursFactory(staff=staff, store=chain.store_a, weekday=0, starts="09:00", ends="18:00")
    CommissionRule.objects.create(job=staff.job, service=None, amount=Decimal("10.00"))
    RoomFactory(store=chain.store_a)
    member_card(member_a, product, chain.store_a, uses_remaining=Decimal(8), recorded_by=chain.cashier_a)
    member_card(member_b, product, chain.store_b, recorded_by=chain.cashier_b)


def build_world(chain) -> World:
    """An object of every kind the back office lists, at store A and store B, made through the services."""
    LoyaltySettingsFactory()
    EarningRuleFactory(points_per_yuan=Decimal("1.00"))
    TierFactory(code="NORMAL", name="普卡", rank=0, threshold=Decimal("0.00"))
    TierFactory(code="GOLD", name="金卡", rank=1, threshold=Decimal("1000.00"))
    RechargePackageFactory()
    member_a = MemberFactory(phone="+8613912345678", name="王芳", store=chain.store_a, staff=chain.cashier_a)
    member_b = MemberFactory(phone="+8613687654321", name="李娜", store=chain.store_b, staff=chain.cashier_b)

    def sale(store, cashier, member, amount="1200.00"):
        lines = [LineInput(category="饮品", quantity=Decimal("1"), unit_price=Decimal(amount))]
        return sale_checkout(
            request_id=rid(),
            store=store,
            cashier=cashier,
            member=member,
            lines=lines,
            tenders=[TenderInput("cash", Decimal(amount))],
        )

    sale_a = sale(chain.store_a, chain.cashier_a, member_a)
    sale_b = sale(chain.store_b, chain.cashier_b, member_b)
    sale_refund(
        request_id=rid(), sale=sale_a, actor=chain.manager_a, reason="试穿不合适", amount=Decimal("10.00"), store=None
    )
    for member, store, cashier in (
        (member_a, chain.store_a, chain.cashier_a),
        (member_b, chain.store_b, chain.cashier_b),
    ):
        wallet_top_up(
            request_id=rid(), member=member, store=store, staff=cashier, tender="cash", amount=Decimal("500.00")
        )
        points_adjust(request_id=rid(), member=member, points=5000, reason="开业补偿", actor=chain.hq_admin)
    gift = MallItemFactory()
    order_a = mall_order_place(request_id=rid(), member=member_a, item=gift, store=chain.store_a, actor=chain.cashier_a)
    order_b = mall_order_place(request_id=rid(), member=member_b, item=gift, store=chain.store_b, actor=chain.cashier_b)
    service_cards(chain, member_a, member_b)
    template = CouponTemplateFactory()
    CouponFactory(template=template, member=member_a)
    MessageTemplateFactory()
    MessageFactory(member=member_a)
    segment = SegmentFactory(created_by=chain.marketer)
    campaign = CampaignFactory(segment=segment, created_by=chain.marketer)
    AutomationFactory(created_by=chain.marketer)
    TagFactory()
    score_members(as_of=timezone.localdate())
    integration_token(chain.hq_admin)
    IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.HOURS)
    CrontabSchedule.objects.get_or_create(minute="0", hour="3")
    SolarSchedule.objects.get_or_create(event="sunrise", latitude=Decimal("31.23"), longitude=Decimal("121.47"))
    ClockedSchedule.objects.get_or_create(clocked_time=timezone.now() + timedelta(days=1))
    AccessAttempt.objects.create(
        username="cashier_a",
        ip_address="10.0.0.8",
        user_agent="tablet",
        failures_since_start=2,
        get_data="",
        post_data="",
    )
    MemberAccess.objects.create(
        staff=chain.cashier_a,
        store=chain.store_a,
        member=member_a,
        kind=MemberAccess.Kind.VIEW,
        channel=MemberAccess.Channel.TABLET,
    )
    # A dry run with a wrong phone: the job has an error report to download.
    rows = [HEADER_ZH, ["13812340000", "张伟", *[""] * 9], ["12345", "刘洋", *[""] * 9]]
    upload = SimpleUploadedFile("m.csv", "\r\n".join(",".join(row) for row in rows).encode())
    job = import_jobs.import_job_create(
        actor=chain.hq_admin, upload=upload, mode="all_or_nothing", dry_run=True, language="en"
    )
    import_jobs.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.error_report, job.message

    def export(actor):
        prepared = member_export_prepare(
            actor=actor, queryset=Member.objects.all(), columns=["name", "phone"], fmt="csv", language="en"
        )
        job = export_job_create(
            actor=actor,
            kind=ExportJob.Kind.MEMBERS,
            export=prepared,
            selection={"source": "member_list", "query": "", "ids": None},
            language="en",
        )
        export_job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == ExportJob.Status.DONE, job.message
        return job

    service, appointments = _appointments(chain, member_a, member_b)
    return World(
        service=service,
        appointment_a=appointments[0],
        appointment_b=appointments[1],
        chain=chain,
        member_a=member_a,
        member_b=member_b,
        sale_a=sale_a,
        sale_b=sale_b,
        order_a=order_a,
        order_b=order_b,
        gift=gift,
        template=template,
        campaign=campaign,
        export_marketer=export(chain.marketer),
        export_admin=export(chain.hq_admin),
    )


def _appointments(chain, member_a, member_b):
    """A facial performed at each store by a therapist working there every day 00:00–23:45, and an
    appointment at each store that started an hour ago."""
    from datetime import time

    from servicecards.models import Appointment
    from tests.factories.servicecards import ServiceFactory, ServiceStaffFactory, WorkingHoursFactory

    service = ServiceFactory(code="FACIAL", name="面部护理", duration_minutes=60)
    appointments = []
    for store, member in ((chain.store_a, member_a), (chain.store_b, member_b)):
        staff = ServiceStaffFactory(services=[service])
        for weekday in range(7):
            WorkingHoursFactory(staff=staff, store=store, weekday=weekday, starts=time(0), ends=time(23, 45))
        started = timezone.now().replace(microsecond=0) - timedelta(hours=1)
        appointments.append(
            Appointment.objects.create(
                request_id=rid(),
                store=store,
                member=member,
                service=service,
                staff=staff,
                starts_at=started,
                ends_at=started + timedelta(hours=1),
                booked_by=chain.hq_admin,
            )
        )
    return service, appointments


# --- the requests ----------------------------------------------------------------------------------
#
# Pages are read with GET; a view that only takes POST is sent an empty form (its refusal comes first).
# API writes are sent a body the service would accept from whoever may make it, so an allowed persona
# gets 2xx and a refusal is the role or the store, not the input. Where the URL or the body names an
# object or a store, the first request uses store A's (the store cashier_a and manager_a serve), the
# second store B's; for export jobs the marketer's own, then the HQ admin's.

APPROVER = {"username": "manager_a", "password": "correct-horse-battery"}


def _api(world, key: str, side: int) -> Ask | None:
    """A valid request to the API endpoint `key` about store A's objects (side 0) or store B's (side 1)."""
    store = world.store(side).code
    member = world.member(side).code
    sale_line = [{"category": "饮品", "quantity": "1", "unit_price": "100.00"}]
    tomorrow = timezone.localdate() + timedelta(days=1)
    asks = {
        "members-api:member-register": lambda: Ask(
            "POST", reverse(key), {"phone": "13700001111", "name": "张伟", "store": store}
        ),
        "members-api:member-lookup": lambda: Ask("GET", query(reverse(key), q=world.member_b.code, store=store)),
        "members-api:member-detail": lambda: Ask("GET", reverse(key, args=[member])),
        "loyalty-api:sale-checkout": lambda: Ask(
            "POST",
            reverse(key),
            {
                "request_id": rid(),
                "store": store,
                "member": world.member_a.code,
                "lines": sale_line,
                "tenders": [{"kind": "cash", "amount": "100.00"}],
            },
        ),
        "loyalty-api:sale-quote": lambda: Ask(
            "POST", reverse(key), {"store": store, "member": world.member_a.code, "lines": sale_line}
        ),
        # A refund is made at the sale's store, approved by manager_a (who serves store A only).
        "loyalty-api:sale-refund": lambda: Ask(
            "POST",
            reverse(key, args=[world.sale(side).pk]),
            {"request_id": rid(), "amount": "10.00", "reason": "有瑕疵", "approver": APPROVER, "store": store},
        ),
        "loyalty-api:wallet-topup": lambda: Ask(
            "POST",
            reverse(key),
            {"request_id": rid(), "member": world.member_a.code, "store": store, "amount": "100.00", "tender": "cash"},
        ),
        "loyalty-api:wallet-refund": lambda: Ask(
            "POST",
            reverse(key),
            {"request_id": rid(), "member": world.member_a.code, "store": store, "reason": "会员退卡"},
        ),
        "loyalty-api:points-adjustment": lambda: Ask(
            "POST",
            reverse(key),
            {"request_id": rid(), "member": world.member_a.code, "points": 50, "reason": "补录积分", "store": store},
        ),
        "loyalty-api:points-event": lambda: Ask(
            "POST", reverse(key), {"member": world.member_a.code, "kind": "review", "external_id": rid()}
        ),
        "loyalty-api:member-sign-in": lambda: Ask("POST", reverse(key, args=[world.member_a.code]), {"store": store}),
        "campaigns-api:member-opt-out": lambda: Ask(
            "POST", reverse(key, args=[member]), {"source": "sms_reply", "reply": "T"}
        ),
        "campaigns-api:opt-out": lambda: Ask("POST", reverse(key), {"member": member, "reply": "T"}),
        "campaigns-api:coupon-issue": lambda: Ask(
            "POST", reverse(key), {"request_id": rid(), "template": world.template.pk, "member": member}
        ),
        "campaigns-api:mall-items": lambda: Ask("GET", query(reverse(key), store=store, member=world.member_a.code)),
        "campaigns-api:mall-order": lambda: Ask(
            "POST",
            reverse(key),
            {"request_id": rid(), "member": world.member_a.code, "item": world.gift.pk, "store": store},
        ),
        "campaigns-api:mall-order-hand-over": lambda: Ask(
            "POST", reverse(key, args=[world.order(side).pk]), {"store": store}
        ),
        "campaigns-api:mall-order-cancel": lambda: Ask(
            "POST", reverse(key, args=[world.order(side).pk]), {"reason": "会员不要了"}
        ),
        "campaigns-api:campaign-effect": lambda: Ask("GET", reverse(key, args=[world.campaign.pk])),
        "servicecards-api:store-slots": lambda: Ask(
            "GET", query(reverse(key, args=[store]), service="FACIAL", day=tomorrow.isoformat())
        ),
        "servicecards-api:appointment-book": lambda: Ask(
            "POST",
            reverse(key),
            {
                "request_id": rid(),
                "store": store,
                "member": world.member_a.code,
                "service": "FACIAL",
                "starts_at": timezone.make_aware(
                    datetime.combine(tomorrow, datetime.min.time().replace(hour=10))
                ).isoformat(),
            },
        ),
        "servicecards-api:appointment-cancel": lambda: Ask(
            "POST", reverse(key, args=[world.appointment(side).pk]), {"reason": "改期"}
        ),
        "servicecards-api:appointment-no-show": lambda: Ask(
            "POST", reverse(key, args=[world.appointment(side).pk]), {}
        ),
        "servicecards-api:member-appointments": lambda: Ask("GET", reverse(key, args=[member])),
    }
    return asks[key]() if key in asks else None


# Endpoints whose two requests differ (another store's object, or another store named): the table gives
# them a `first/second` cell where the answers should differ.
API_TWO_SIDED = {
    "members-api:member-register",
    "members-api:member-lookup",
    "members-api:member-detail",
    "loyalty-api:sale-checkout",
    "loyalty-api:sale-quote",
    "loyalty-api:sale-refund",
    "loyalty-api:wallet-topup",
    "loyalty-api:wallet-refund",
    "loyalty-api:points-adjustment",
    "loyalty-api:member-sign-in",
    "campaigns-api:member-opt-out",
    "campaigns-api:opt-out",
    "campaigns-api:mall-items",
    "campaigns-api:mall-order",
    "campaigns-api:mall-order-hand-over",
    "campaigns-api:mall-order-cancel",
    "servicecards-api:store-slots",
    "servicecards-api:appointment-book",
    "servicecards-api:appointment-cancel",
    "servicecards-api:appointment-no-show",
    "servicecards-api:member-appointments",
}

# Views that answer only POST (GET is 405 whoever asks): they are sent an empty form.
POST_ONLY = {
    "set_language",
    "admin:logout",
    "tablet:logout",
    "admin:members_importjob_retry",
    "admin:members_exportjob_retry",
    "admin:campaigns_automation_switch",
    "admin:campaigns_automation_run",
    "admin:campaigns_campaign_schedule",
    "admin:campaigns_campaign_launch",
    "admin:campaigns_campaign_cancel",
    "admin:campaigns_segment_count",
    "admin:campaigns_segment_recount",
    "admin:campaigns_segment_export",
}


def _admin_model(route: str):
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    if not match:
        return None
    return next((m for m in admin.site._registry if (m._meta.app_label, m._meta.model_name) == match.groups()), None)


def _admin_object(model, world, side: int):
    if model is ExportJob:
        return world.export(side)
    found = model._default_manager.order_by("pk").first()
    assert found is not None, f"the world has no {model._meta.label}: add one to build_world()"
    return found


def _url(pattern: Pattern, values: dict) -> str:
    if pattern.name:
        return reverse(pattern.name, kwargs=values)
    url = pattern.route
    for name, value in values.items():
        url = re.sub(rf"<(?:\w+:)?{name}>", str(value), url)
    return "/" + url


def asks_for(pattern: Pattern, world) -> list[Ask]:
    """The request(s) for this pattern: one, or two where the URL or body names a store's object."""
    if pattern.key.startswith(("members-api:", "loyalty-api:", "campaigns-api:", "servicecards-api:")):
        sides = (0, 1) if pattern.key in API_TWO_SIDED else (0,)
        made = [_api(world, pattern.key, side) for side in sides]
        assert made[0] is not None, f"{pattern.key}: give it a request in url_matrix._api()"
        return made
    if pattern.route == "admin/(?P<url>.*)$":
        return [Ask("GET", "/admin/no-such-page/")]
    method = "POST" if pattern.key in POST_ONLY or pattern.key.endswith("@save") else "GET"
    model = _admin_model(pattern.route)
    missing = [name for name in pattern.kwargs if name not in pattern.fixed]
    sides = (0,)
    if model is not None and missing:
        sides = (0, 1) if model is ExportJob else (0,)
    elif any(name in ("code", "sale_id") for name in missing):
        sides = (0, 1)
    asks = []
    for side in sides:
        values = dict(pattern.fixed)
        for name in missing:
            values[name] = _value(pattern, name, model, world, side)
        asks.append(Ask(method, _url(pattern, values)))
    return asks


def _value(pattern: Pattern, name: str, model, world, side: int):
    if model is not None and name != "kind":
        return _admin_object(model, world, side).pk
    if name == "kind":
        return ImportJob.Kind.MEMBERS
    if name == "code":
        return world.member(side).code
    if name == "sale_id":
        return world.sale(side).pk
    if name == "content_type_id":
        return ContentType.objects.get_for_model(type(world.member_a)).pk
    if name == "object_id":
        return world.member_a.pk
    raise AssertionError(f"{pattern.key} ({pattern.route}): say in url_matrix._value() what to send as {name}")


# --- the check -------------------------------------------------------------------------------------

USERS = {
    "anonymous": None,
    "cashier": "cashier_a",
    "manager": "manager_a",
    "marketer": "marketer",
    "hq_admin": "hq_admin",
}


def log_in(client, world, persona: str) -> None:
    """The persona on this client; staff who use the tablet have it working at store A."""
    client.logout()
    if USERS[persona] is None:
        return
    client.force_login(getattr(world.chain, USERS[persona]))
    session = client.session
    session["tablet_store_id"] = world.chain.store_a.pk
    session.save()


def _shown(outcomes: tuple[str, str]) -> str:
    return outcomes[0] if outcomes[0] == outcomes[1] else "/".join(outcomes)


def _answer_or_error(client, ask: Ask) -> str:
    try:
        return answer(client, ask)
    except Exception as error:  # a server error is an answer the table never expects; report it with the rest
        return f"error ({type(error).__name__}: {str(error)[:80]})"


def mismatches(client, world, persona: str, patterns: list[Pattern], rows: list[Row]) -> list[str]:
    """Each pattern asked as `persona`; a line for each answer the table did not expect."""
    log_in(client, world, persona)
    wrong = []
    for pattern in patterns:
        row = row_for(pattern.key, rows)
        if row is None:
            wrong.append(f"{pattern.key} ({pattern.route}): no row in the table")
            continue
        asks = asks_for(pattern, world)
        expected = row.cells[persona]
        if len(asks) == 1 and expected[0] != expected[1]:
            wrong.append(
                f"{pattern.key}: table line {row.line} gives two outcomes, but the URL names no store's object"
            )
            continue
        got = tuple(_answer_or_error(client, ask) for ask in asks)
        got = got * 2 if len(got) == 1 else got
        if got != expected:
            wrong.append(
                f"{pattern.key} ({asks[0].method} {asks[0].url}): table line {row.line} says {_shown(expected)}, "
                f"got {_shown(got)}"
            )
    return wrong
