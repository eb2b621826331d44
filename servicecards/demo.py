"""Demo service cards: a beauty salon and a gym with their services, card products, therapists and
coaches (working hours, rooms, commission rules), and about half a year of cards sold through `card_sell`
and used through `card_use` (with the staff's notes), a few frozen, reversed and refunded. The last
month's treatments and lessons were booked the day before through `appointment_book` (done with their
use, or missed); the coming week has bookings in free slots.

As the loyalty history does, it patches the clock to each event's time, so sales, points, card entries
and expiry dates read as if the stores had been trading all along; every write has a deterministic
request id ("demo-card-sale-3"), and the history is skipped once loaded, so running `demo` again adds
nothing. It stays small (a few hundred cards) to keep `make run` quick.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from unittest import mock

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.utils import timezone
from tqdm import tqdm

from loyalty.demo import Clock
from loyalty.models import Sale
from loyalty.services import LineInput, TenderInput, sale_quote, tiers_evaluate
from members.models import Member
from servicecards.models import (
    Appointment,
    CardEntry,
    CardProduct,
    CommissionRule,
    MemberCard,
    Room,
    Service,
    ServiceStaff,
    WorkingHours,
)
from servicecards.selectors import free_slots
from servicecards.services.appointments import appointment_book, appointment_complete, appointment_mark_no_show
from servicecards.services.cards import (
    CARD_CATEGORY,
    card_freeze,
    card_refund,
    card_sell,
    card_unfreeze,
    card_use,
    card_use_reverse,
)
from stores.demo import DemoContext, DemoLogin
from stores.models import Region, Store
from stores.roles import Role
from stores.services import staff_create, staff_set_role, staff_set_stores

HISTORY_DAYS = 180
BOOKED_SINCE = timedelta(days=30)
FIRST_SALE_ID = "demo-card-sale-0"

# code, name, region, address, phone
STORES = [
    ("SH101", "静安美容店", "EAST", "上海市静安区愚园路188号", "021-62551010"),
    ("SZ201", "南山健身房", "SOUTH", "深圳市南山区科苑路15号", "0755-26631010"),
]
# username, role, store, given name, family name, default password (printed with the chain's logins)
LOGINS = [
    ("manager_mr", Role.STORE_MANAGER, "SH101", "雅琴", "周", "manager-demo-2026"),
    ("cashier_mr", Role.CASHIER, "SH101", "婷", "吴", "cashier-demo-2026"),
    ("manager_js", Role.STORE_MANAGER, "SZ201", "斌", "黄", "manager-demo-2026"),
    ("cashier_js", Role.CASHIER, "SZ201", "雪", "林", "cashier-demo-2026"),
]
# code, name, minutes, price, next visit after (days)
SERVICES = [
    ("WASH", "洗护", 60, "88.00", 14),
    ("FACIAL", "面部护理", 90, "298.00", 28),
    ("MASSAGE", "肩颈按摩", 45, "158.00", None),
    ("PT", "私教课", 60, "400.00", 7),
    ("CLASS", "团课", 60, "80.00", None),
]
# code, name, kind, uses, bonus, price, months, valid from, cap per day, services, store
PRODUCTS = [
    ("WASH10", "10次洗护卡", "count", 10, 2, "680.00", 12, "purchase", None, ["WASH"], "SH101"),
    ("FACIAL5", "面部护理5次卡", "count", 5, 0, "1280.00", 12, "purchase", None, ["FACIAL"], "SH101"),
    ("PT20", "20课时私教卡", "hours", 20, 0, "6800.00", 12, "first_use", None, ["PT"], "SZ201"),
    ("GYM1M", "健身月卡", "period", 0, 0, "399.00", 1, "purchase", 1, ["CLASS"], "SZ201"),
    ("GYM12M", "健身年卡", "period", 0, 0, "2999.00", 12, "purchase", 1, ["CLASS"], "SZ201"),
]
# username, store, job, given name, family name, services, weekdays off (0 Monday)
SERVICE_STAFF = [
    ("mr_li", "SH101", "therapist", "丽华", "李", ["FACIAL", "MASSAGE"], (0,)),
    ("mr_chen", "SH101", "therapist", "小雨", "陈", ["FACIAL", "MASSAGE", "WASH"], (2,)),
    ("mr_zhao", "SH101", "stylist", "凯", "赵", ["WASH"], (0,)),
    ("js_wang", "SZ201", "coach", "磊", "王", ["PT", "CLASS"], (3,)),
    ("js_liu", "SZ201", "coach", "欣怡", "刘", ["PT", "CLASS"], (1,)),
    ("js_sun", "SZ201", "coach", "浩然", "孙", ["CLASS"], (6,)),
]
HOURS = {"SH101": (time(10), time(20)), "SZ201": (time(7), time(21))}
ROOMS = {"SH101": ["美容室1", "美容室2", "按摩室"], "SZ201": ["私教区A", "私教区B", "团课教室"]}
# job, service (None: every service), amount, percent
COMMISSIONS = [
    ("therapist", None, "0.00", "10.00"),
    ("therapist", "FACIAL", "40.00", "0.00"),
    ("stylist", "WASH", "15.00", "0.00"),
    ("coach", "PT", "120.00", "0.00"),
    ("coach", "CLASS", "30.00", "0.00"),
]
NOTES = {
    "WASH": ["", "头皮偏油，建议控油洗发水", "发尾干枯，加做护发", "头皮敏感，水温调低", ""],
    "FACIAL": ["", "皮肤偏干，加强补水", "T区出油，做了清洁", "有轻微泛红，避免去角质", "建议两周后复做"],
    "PT": ["", "深蹲 60kg×8×4", "硬拉 80kg×5×3，注意腰背", "体脂率 24%，比上月降 1%", "肩部旧伤，避免推举"],
    "CLASS": ["", "", "动感单车", "瑜伽", "普拉提"],
}
FREEZE_REASONS = ["出差一个月", "怀孕暂停", "运动受伤休养", "出国旅行"]
REFUND_REASONS = ["搬家离开本市", "身体原因无法继续", "对服务不满意"]


@dataclass
class Counts:
    cards: int = 0
    uses: int = 0
    reversals: int = 0
    frozen: int = 0
    refunded: int = 0
    skipped: int = 0
    done: int = 0
    no_shows: int = 0
    upcoming: int = 0
    refused: list[str] = field(default_factory=list)


def _user(username: str, *, role, store: Store, first: str, last: str, password: str | None):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None:
        user = staff_create(
            actor=None,
            username=username,
            password=password or "!",
            role=role,
            stores=[store],
            first_name=first,
            last_name=last,
        )
    else:
        staff_set_role(actor=None, user=user, role=role, reason="demo")
        staff_set_stores(actor=None, user=user, stores=[store], reason="demo")
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()  # therapists and coaches do not log in: they are who performed
    user.is_active = True
    user.save(update_fields=["password", "is_active"])
    return user


def _stores_and_logins(ctx: DemoContext) -> dict[str, object]:
    for code, name, region, address, phone in STORES:
        region_row = Region.objects.filter(code=region).first()
        ctx.stores[code], _created = Store.objects.get_or_create(
            code=code, defaults={"name": name, "region": region_row, "address": address, "phone": phone}
        )
    logins = {}
    for username, role, store_code, first, last, default_password in LOGINS:
        password = ctx.options.password or default_password
        user = _user(username, role=role, store=ctx.stores[store_code], first=first, last=last, password=password)
        ctx.staff[username] = logins[store_code, role] = user
        ctx.logins.append(DemoLogin(role=role.value, username=username, password=password, where=store_code))
    return logins


def _catalogue(ctx: DemoContext) -> tuple[dict[str, Service], dict[str, CardProduct]]:
    services = {}
    for code, name, minutes, price, next_visit in SERVICES:
        services[code], _created = Service.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "duration_minutes": minutes,
                "price": Decimal(price),
                "next_visit_days": next_visit,
            },
        )
    products = {}
    for code, name, kind, uses, bonus, price, months, valid_from, cap, covered, store in PRODUCTS:
        product, created = CardProduct.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "uses": Decimal(uses),
                "bonus_uses": Decimal(bonus),
                "price": Decimal(price),
                "validity_months": months,
                "valid_from": valid_from,
                "cap_per_day": cap,
            },
        )
        if created:
            product.services.set([services[c] for c in covered])
            product.stores.set([ctx.stores[store]])
        products[code] = product
    for job, service, amount, percent in COMMISSIONS:
        CommissionRule.objects.get_or_create(
            job=job,
            service=services[service] if service else None,
            defaults={"amount": Decimal(amount), "percent": Decimal(percent)},
        )
    for store_code, names in ROOMS.items():
        for name in names:
            Room.objects.get_or_create(store=ctx.stores[store_code], name=name)
    return services, products


def _service_staff(ctx: DemoContext, services: dict[str, Service]) -> dict[str, list[ServiceStaff]]:
    by_store: dict[str, list[ServiceStaff]] = {}
    for username, store_code, job, first, last, performs, days_off in SERVICE_STAFF:
        store = ctx.stores[store_code]
        user = _user(username, role=Role.CASHIER, store=store, first=first, last=last, password=None)
        staff, created = ServiceStaff.objects.get_or_create(user=user, defaults={"job": job})
        if created:
            staff.services.set([services[c] for c in performs])
            starts, ends = HOURS[store_code]
            WorkingHours.objects.bulk_create(
                [
                    WorkingHours(staff=staff, store=store, weekday=day, starts=starts, ends=ends)
                    for day in range(7)
                    if day not in days_off
                ]
            )
        by_store.setdefault(store_code, []).append(staff)
    return by_store


@dataclass(order=True)
class Event:
    at: datetime
    order: int
    kind: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


def _at(day, rng: random.Random, store_code: str) -> datetime:
    starts, ends = HOURS[store_code]
    hour = rng.randrange(starts.hour, ends.hour - 1)
    return timezone.make_aware(datetime.combine(day, time(hour, rng.choice((0, 15, 30, 45)))))


def _plan(rng: random.Random, members: list[Member], now: datetime) -> list[Event]:
    """Every card sale and use (and the few freezes, reversals and refunds), in time order."""
    start = now - timedelta(days=HISTORY_DAYS)
    events: list[Event] = []
    n = 0
    # The salon's cards and the gym's: about three in five members buy at the salon.
    for i, member in enumerate(members):
        salon = i % 5 < 3
        code = rng.choice(["WASH10", "WASH10", "FACIAL5"] if salon else ["PT20", "GYM1M", "GYM1M", "GYM12M"])
        store_code = "SH101" if salon else "SZ201"
        # One card in 25 is frozen (half of them in use again since), one in 40 refunded (with uses left):
        # bought in the first half of the history, after two or three uses.
        fate = "freeze" if i % 25 == 3 else "refund" if i % 40 == 6 else ""
        sold_day = (start + timedelta(days=rng.randrange(HISTORY_DAYS // 2 if fate else HISTORY_DAYS - 1))).date()
        sold = _at(sold_day, rng, store_code)
        card_no = n
        events.append(Event(sold, n, "sell", {"n": card_no, "member": member, "product": code, "store": store_code}))
        n += 1
        # Uses: every week or two for count and hours cards; two or three times a week for a gym card.
        gap = {"WASH10": (5, 16), "FACIAL5": (12, 30), "PT20": (2, 8), "GYM1M": (1, 5), "GYM12M": (2, 9)}[code]
        limit = {"WASH10": 12, "FACIAL5": 5, "PT20": 20, "GYM1M": 12, "GYM12M": 40}[code]
        limit = min(limit, rng.choice((2, 3))) if fate else limit
        last_day = {"GYM1M": sold_day + timedelta(days=27)}.get(code, now.date())
        day, used, at = sold_day, Decimal(0), sold
        while used < limit:
            uses = Decimal(rng.choice((1, 1, 1, 2))) if code == "PT20" else Decimal(1)
            day += timedelta(days=rng.randint(*gap))
            if day > last_day or used + uses > limit:
                break
            at = _at(day, rng, store_code)
            if at >= now - timedelta(hours=1):
                break
            events.append(
                Event(at, n, "use", {"card": card_no, "store": store_code, "uses": uses, "note": rng.random()})
            )
            n += 1
            used += uses
            if rng.random() < 0.01:
                events.append(Event(at + timedelta(minutes=20), n, "reverse", {"card": card_no}))
                n += 1
        if fate == "freeze" and at + timedelta(days=1) < now:
            frozen_at = at + timedelta(days=1)
            events.append(Event(frozen_at, n, "freeze", {"card": card_no, "reason": rng.choice(FREEZE_REASONS)}))
            n += 1
            back = frozen_at + timedelta(days=rng.randint(20, 40))
            if back < now and rng.random() < 0.5:
                events.append(Event(back, n, "unfreeze", {"card": card_no}))
                n += 1
        elif fate == "refund" and at + timedelta(days=1) < now:
            refund_at = min(at + timedelta(days=rng.randint(1, 10)), now - timedelta(hours=1))
            events.append(Event(refund_at, n, "refund", {"card": card_no, "reason": rng.choice(REFUND_REASONS)}))
            n += 1
    return sorted(events)


def _sell(event: Event, ctx: DemoContext, products, logins, cards: dict) -> None:
    data = event.data
    store = ctx.stores[data["store"]]
    cashier = logins[data["store"], Role.CASHIER]
    product = products[data["product"]]
    line = LineInput(category=CARD_CATEGORY, quantity=Decimal(1), unit_price=product.price, sku=product.code)
    # What checkout will charge (the member's tier discount included), paid by phone.
    due = sale_quote(store=store, cashier=cashier, member=data["member"], lines=[line]).total_due
    sold = card_sell(
        request_id=f"demo-card-sale-{data['n']}",
        store=store,
        cashier=cashier,
        member=data["member"],
        product=product,
        tenders=[TenderInput("mobile", due)] if due > 0 else [],
    )
    cards[data["n"]] = (sold.card, data["store"])


def _book(request_id: str, *, store, actor, card, service, starts_at, staff) -> Appointment | None:
    """A booking of the card's member, or None where the slot is not to be had (taken, outside hours)."""
    try:
        return appointment_book(
            request_id=request_id,
            store=store,
            actor=actor,
            member=card.member,
            service=service,
            starts_at=starts_at,
            staff=staff,
            card=card,
        )
    except ValidationError:
        return None


def _upcoming(ctx: DemoContext, rng: random.Random, cards: dict, logins: dict, covers: dict) -> int:
    """Bookings for today (what is left of it) and the next six days, in free slots, by the cards' members."""
    by_store: dict[str, list[MemberCard]] = {}
    for card, store_code in cards.values():
        if card.kind != CardProduct.Kind.PERIOD:
            by_store.setdefault(store_code, []).append(card)
    today = timezone.localdate()
    booked = 0
    for offset in range(7):
        day = today + timedelta(days=offset)
        for store_code, store_cards in sorted(by_store.items()):
            store = ctx.stores[store_code]
            for j in range(rng.randint(3, 6)):
                card = MemberCard.objects.select_related("member", "product").get(pk=rng.choice(store_cards).pk)
                if card.status != MemberCard.Status.ACTIVE or (card.uses_remaining or 0) < 1:
                    continue
                service = covers[card.product_id]
                slots = free_slots(store=store, service=service, day=day)
                if not slots:
                    continue
                starts_at, staff = rng.choice(slots)
                booked += bool(
                    _book(
                        f"demo-appt-ahead-{day.isoformat()}-{store_code}-{j}",
                        store=store,
                        actor=logins[store_code, Role.CASHIER],
                        card=card,
                        service=service,
                        starts_at=starts_at,
                        staff=staff,
                    )
                )
    return booked


def demo_service_cards(ctx: DemoContext) -> None:
    rng = random.Random(f"servicecards-{ctx.options.seed}")  # its own generator, as loyalty's
    logins = _stores_and_logins(ctx)
    services, products = _catalogue(ctx)
    staff = _service_staff(ctx, services)
    staff_of = {person.user_id: person for people in staff.values() for person in people}
    if Sale.objects.filter(request_id=FIRST_SALE_ID).exists():
        ctx.summary.append(_summary(prefix="service cards already loaded: "))
        return
    everyone = list(Member.objects.filter(status=Member.Status.ACTIVE).order_by("code"))
    if not everyone:
        ctx.summary.append("service cards: stores, services and staff only (no members to sell cards to)")
        return
    members = sorted(rng.sample(everyone, k=min(120, max(1, len(everyone) // 10))), key=lambda m: m.code)
    now = timezone.now()
    events = _plan(rng, members, now)
    cards: dict[int, tuple[MemberCard, str]] = {}
    uses: dict[int, CardEntry] = {}
    counts = Counts()
    covers = {p.pk: p.services.order_by("code").first() for p in products.values()}
    performers: dict[tuple[str, int], list] = {}
    for store_code, people in staff.items():
        for person in people:
            for service in person.services.all():
                performers.setdefault((store_code, service.pk), []).append(person.user)
    bar = tqdm(total=len(events), desc="service cards", unit="event", file=ctx.progress, disable=ctx.progress is None)
    clock = Clock(now)
    with mock.patch("django.utils.timezone.now", new=clock):
        for k, event in enumerate(events):
            clock.at = event.at
            data = event.data
            try:
                if event.kind == "sell":
                    _sell(event, ctx, products, logins, cards)
                    counts.cards += 1
                    continue
                if data["card"] not in cards:
                    continue
                card, store_code = cards[data["card"]]
                store = ctx.stores[store_code]
                manager = logins[store_code, Role.STORE_MANAGER]
                if event.kind == "use":
                    service = covers[card.product_id]
                    able = performers.get((store_code, service.pk), [])
                    performer = able[int(data["note"] * len(able))] if able else None
                    cashier = logins[store_code, Role.CASHIER]
                    # The last weeks' treatments and lessons were booked the day before (group classes are not).
                    booked = None
                    if performer and service.code != "CLASS" and event.at > now - BOOKED_SINCE and data["note"] < 0.7:
                        clock.at = event.at - timedelta(days=1)
                        booked = _book(
                            f"demo-appt-{k}",
                            store=store,
                            actor=cashier,
                            card=card,
                            service=service,
                            starts_at=event.at,
                            staff=staff_of[performer.pk],
                        )
                        clock.at = event.at
                    if booked is not None and data["note"] < 0.04:
                        clock.at = event.at + timedelta(minutes=30)
                        appointment_mark_no_show(appointment=booked, actor=cashier)
                        counts.no_shows += 1
                        continue
                    notes = NOTES.get(service.code, [""])
                    uses[data["card"]] = card_use(
                        request_id=f"demo-card-use-{k}",
                        card=card,
                        store=store,
                        actor=cashier,
                        service=service,
                        uses=data["uses"],
                        performed_by=performer,
                        note=notes[int(data["note"] * 97) % len(notes)],
                    )
                    counts.uses += 1
                    if booked is not None:
                        clock.at = event.at + timedelta(minutes=service.duration_minutes)
                        appointment_complete(appointment=booked, actor=cashier, use_entry=uses[data["card"]])
                        counts.done += 1
                elif event.kind == "reverse" and data["card"] in uses:
                    entry = uses.pop(data["card"])
                    card_use_reverse(request_id=f"demo-card-reverse-{k}", entry=entry, actor=manager, reason="记错了卡")
                    counts.reversals += 1
                elif event.kind == "freeze":
                    card_freeze(card=card, actor=manager, store=store, reason=data["reason"])
                    counts.frozen += 1
                elif event.kind == "unfreeze":
                    card_unfreeze(card=card, actor=manager, store=store)
                    counts.frozen -= 1
                elif event.kind == "refund":
                    # The manager of the store that sold it refunds a card while it is valid (the card policy).
                    card_refund(
                        request_id=f"demo-card-refund-{k}", card=card, actor=manager, store=store, reason=data["reason"]
                    )
                    counts.refunded += 1
            except (ValidationError, IntegrityError) as refusal:
                # Each service call rolled its own savepoint back: the history goes on without it.
                counts.skipped += 1
                if len(counts.refused) < 3:
                    counts.refused.append(f"{event.kind}: {refusal}")
            finally:
                bar.update(1)
    bar.close()
    tiers_evaluate()  # the card sales count towards the members' tiers
    counts.upcoming = _upcoming(ctx, rng, cards, logins, covers)
    refused = f"; {counts.skipped} events refused by the services, e.g. {counts.refused}" if counts.skipped else ""
    ctx.summary.append(
        _summary(prefix="")
        + f" ({counts.reversals} reversed, {counts.frozen} frozen, {counts.refunded} refunded{refused}); "
        + f"{counts.done} appointments done, {counts.no_shows} missed, {counts.upcoming} booked for the coming week"
    )


def _summary(*, prefix: str) -> str:
    return (
        f"{prefix}{len(STORES)} service stores, {Service.objects.count()} services, "
        f"{CardProduct.objects.count()} card products, {ServiceStaff.objects.count()} therapists and coaches, "
        f"{MemberCard.objects.count()} members' cards, "
        f"{CardEntry.objects.filter(kind=CardEntry.Kind.USE).count()} card uses"
    )
