"""Demo loyalty data: the chain's rules, tiers and recharge packages, and about thirteen months of
history (sales, top-ups, refunds, points paid and stored value spent) written through the services.

The services stamp everything with timezone.now(); the history patches that clock to each event's
time, so ledgers, lots, expiry dates, tier upgrades and created_at columns read as if the chain had
been trading all along. The nightly jobs (points expiry, tier evaluation) run at 02:00 of every
simulated day, as Celery beat would. Every write has a deterministic request id ("demo-sale-17"), and
the step skips its history once loaded, so running `demo` again adds nothing.
"""

import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from unittest import mock

from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django.db.models import Count
from django.utils import timezone
from tqdm import tqdm

from loyalty.models import (
    EarningRule,
    LoyaltySettings,
    MemberStats,
    PointsAccount,
    PointsEntry,
    PointsLot,
    RechargePackage,
    Refund,
    Sale,
    SaleTender,
    Tier,
    TierPolicy,
    TopUp,
    Wallet,
    WalletEntry,
)
from loyalty.services import (
    LineInput,
    RefundLineInput,
    TenderInput,
    points_adjust,
    points_expire_due,
    sale_checkout,
    sale_refund,
    tiers_evaluate,
    wallet_top_up,
)
from loyalty.services.policy import max_redeemable_points, money, points_value
from loyalty.services.wallet import split_spend
from members.models import Member
from stores.demo import DemoContext
from stores.permissions import staff_access, staff_can
from stores.roles import Action

HISTORY_DAYS = 395  # a year and a month: the oldest points expire and the first tiers come up for review
FIRST_SALE_ID = "demo-sale-0"

# code, name, rank, threshold (¥ over 365 days), discount %, points multiplier, birthday points, free shipping
TIERS = [
    ("NORMAL", "普通会员", 0, "0", "0", "1", 0, False),
    ("SILVER", "银卡", 1, "1000", "2", "1.2", 0, False),
    ("GOLD", "金卡", 2, "5000", "5", "1.5", 200, False),
    ("DIAMOND", "钻石", 3, "20000", "8", "2", 0, True),
]
PACKAGES = [("充200送10", "200", "10"), ("充500送50", "500", "50"), ("充1000送150", "1000", "150")]
# category → (name, SKU, price)
CATALOGUE = {
    "饮品": [
        ("美式咖啡 中杯", "YP001", "18.00"),
        ("拿铁 大杯", "YP002", "26.00"),
        ("珍珠奶茶", "YP003", "16.00"),
        ("鲜榨橙汁", "YP004", "15.00"),
        ("农夫山泉 550ml", "YP005", "2.50"),
        ("可口可乐 330ml", "YP006", "3.50"),
    ],
    "烘焙": [
        ("全麦吐司", "HB001", "12.80"),
        ("黄油牛角包", "HB002", "9.90"),
        ("肉松小贝", "HB003", "15.80"),
        ("重芝士蛋糕", "HB004", "28.00"),
        ("生日蛋糕 6寸", "HB005", "168.00"),
    ],
    "零食": [
        ("乐事薯片 原味", "LS001", "8.50"),
        ("奥利奥饼干", "LS002", "11.90"),
        ("卫龙辣条", "LS003", "5.00"),
        ("良品铺子猪肉脯", "LS004", "29.90"),
        ("三只松鼠坚果礼盒", "LS005", "99.00"),
    ],
    "日用品": [
        ("维达抽纸 3包", "RY001", "15.90"),
        ("蓝月亮洗衣液 2kg", "RY002", "39.90"),
        ("高露洁牙膏", "RY003", "12.50"),
        ("舒肤佳香皂", "RY004", "6.50"),
        ("得力垃圾袋", "RY005", "9.90"),
    ],
    "烟酒": [
        ("青岛啤酒 500ml", "YJ001", "6.00"),
        ("长城干红 750ml", "YJ002", "88.00"),
        ("中华香烟 (条)", "YJ003", "450.00"),
        ("五粮液 500ml", "YJ004", "1099.00"),
        ("飞天茅台 500ml", "YJ005", "1499.00"),
    ],
    "充值卡": [("超市购物卡 面值200", "CZ001", "200.00")],
}
EVERYDAY = ["饮品", "饮品", "烘焙", "零食", "日用品"]
REFUND_REASONS = ["商品质量问题", "顾客不想要了", "收银录入错误", "包装破损", "临期商品退换"]
ADJUST_REASONS = ["系统故障补录积分", "投诉补偿", "线下活动奖励", "重复积分冲正"]

# profile: (share of active members, sales per member, basket size 0–2, only in the first three months)
PROFILES = {
    "light": (0.50, (1, 3), 0, False),
    "regular": (0.29, (2, 6), 0, False),
    "heavy": (0.12, (8, 20), 1, False),
    "lapsed": (0.08, (5, 10), 1, True),
    "vip": (0.01, (15, 30), 2, False),  # buys liquor by the case: the chain's few 钻石 members
}


@dataclass(order=True)
class Event:
    at: datetime
    order: int
    kind: str = field(compare=False)
    data: dict = field(compare=False, default_factory=dict)


class Clock:
    """What django.utils.timezone.now returns while the history is written."""

    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _rules(ctx: DemoContext, *, fresh: bool) -> list[Tier]:
    settings = LoyaltySettings.current()
    policy = TierPolicy.current()
    if fresh:
        settings.redeem_points_per_yuan, settings.redeem_step, settings.redeem_max_share = 100, 100, Decimal("0.50")
        settings.expiry_policy, settings.expiry_months = LoyaltySettings.ExpiryPolicy.ROLLING, 12
        settings.pending_days = 0
        settings.save()
        policy.metric, policy.window_days, policy.retention_days = Tier.Metric.SPEND, 365, 365
        policy.save()
    tiers = []
    for code, name, rank, threshold, discount, multiplier, birthday, shipping in TIERS:
        tier, _created = Tier.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "rank": rank,
                "threshold": Decimal(threshold),
                "discount_percent": Decimal(discount),
                "points_multiplier": Decimal(multiplier),
                "birthday_points": birthday,
                "free_shipping": shipping,
            },
        )
        tiers.append(tier)
    EarningRule.objects.get_or_create(
        name="基础积分",
        defaults={
            "points_per_yuan": Decimal("1.00"),
            "excluded_categories": ["烟酒", "充值卡"],
            "member_day_weekday": 2,
            "member_day_multiplier": Decimal("2"),
            "birthday_month_multiplier": Decimal("2"),
            "use_tier_multiplier": True,
            "combine": EarningRule.Combine.BEST,
        },
    )
    anniversary, created = EarningRule.objects.get_or_create(
        name="上海徐汇店店庆 积分三倍",
        defaults={
            "is_active": False,
            "priority": 10,
            "points_per_yuan": Decimal("3.00"),
            "excluded_categories": ["烟酒", "充值卡"],
            "combine": EarningRule.Combine.BEST,
            "per_sale_cap": 3000,
        },
    )
    if created and "SH001" in ctx.stores:
        anniversary.stores.add(ctx.stores["SH001"])
    for name, pay, bonus in PACKAGES:
        RechargePackage.objects.get_or_create(
            name=name, defaults={"pay_amount": Decimal(pay), "bonus_amount": Decimal(bonus)}
        )
    return tiers


def _staffing(ctx: DemoContext):
    """Who sells and who refunds at each store, from the demo staff's roles."""
    sellers: dict[str, list] = {}
    refunders: dict[str, tuple] = {}
    hq = next(
        (u for u in ctx.staff.values() if staff_can(u, Action.APPROVE_REFUND) and staff_access(u).chain_wide), None
    )
    for code, store in ctx.stores.items():
        local = [u for u in ctx.staff.values() if not staff_access(u).chain_wide and staff_can(u, Action.SELL, store)]
        if not local:
            continue
        sellers[code] = local
        manager = next((u for u in local if staff_can(u, Action.APPROVE_REFUND, store)), None)
        refunders[code] = (manager, None) if manager else (local[0], hq)
    return sellers, refunders, hq


def _local(day, rng: random.Random) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(rng.randrange(8, 22), rng.randrange(60), rng.randrange(60))))


def _basket(rng: random.Random, size: int) -> list[LineInput]:
    big = size > 0
    lines = []
    for _ in range(rng.choice((1, 1, 2, 2, 3, 4))):
        category = rng.choice(EVERYDAY)
        _name, sku, price = rng.choice(CATALOGUE[category])
        quantity = rng.choice((1, 1, 1, 2, 2, 3, 6)) if category == "饮品" else rng.choice((1, 1, 1, 2))
        lines.append(LineInput(category=category, quantity=Decimal(quantity), unit_price=Decimal(price), sku=sku))
    if rng.random() < (0.08, 0.2, 0.7)[size]:
        # 烟酒 earns no points but counts for the tier: the big-ticket buys of a supermarket.
        drinks = CATALOGUE["烟酒"]
        _name, sku, price = rng.choice((drinks[:2], [drinks[1]] * 3 + [drinks[2]] * 3 + drinks[3:], drinks[3:])[size])
        quantity = Decimal(rng.choice((1, 1, 2) if size < 2 else (1, 2, 3)))
        lines.append(LineInput(category="烟酒", quantity=quantity, unit_price=Decimal(price), sku=sku))
    if big and rng.random() < 0.1:
        _name, sku, price = CATALOGUE["充值卡"][0]
        lines.append(LineInput(category="充值卡", quantity=Decimal(1), unit_price=Decimal(price), sku=sku))
    if big and rng.random() < 0.3:
        category, index = rng.choice([("零食", 4), ("烘焙", 4), ("日用品", 1)])
        _name, sku, price = CATALOGUE[category][index]
        lines.append(
            LineInput(category=category, quantity=Decimal(rng.choice((1, 2))), unit_price=Decimal(price), sku=sku)
        )
    return lines


def _plan(ctx: DemoContext, rng: random.Random, members: list[Member], sellers: dict, now: datetime) -> list[Event]:
    """Every sale, top-up, refund and adjustment of the history, in time order."""
    start = now - timedelta(days=HISTORY_DAYS)
    staffed = sorted(sellers)
    store_codes = {store.pk: code for code, store in ctx.stores.items()}
    events: list[Event] = []
    sale_events: list[Event] = []
    n = 0

    def at_store(member: Member) -> str:
        home = store_codes.get(member.home_store_id)
        if home in sellers and rng.random() < 0.8:
            return home
        near = [c for c in staffed if home and c[:2] == home[:2]] or staffed
        return rng.choice(near if rng.random() < 0.7 else staffed)

    names = list(PROFILES)
    weights = [PROFILES[p][0] for p in names]
    for i, member in enumerate(members):
        # The first few members get one profile each, so even a small demo has every kind.
        profile = names[i] if i < len(names) else rng.choices(names, weights)[0]
        _share, (low, high), size, early = PROFILES[profile]
        since = max(start, member.registered_at)
        until = min(now - timedelta(hours=2), since + timedelta(days=90)) if early else now - timedelta(hours=2)
        span = max(1, (until.date() - since.date()).days)
        for _ in range(rng.randint(low, high)):
            day = since.date() + timedelta(days=rng.randrange(span))
            at = _local(day, rng)
            if not since <= at <= until:
                continue
            code = at_store(member)
            event = Event(
                at,
                n,
                "sale",
                {
                    "n": n,
                    "member": member,
                    "store": code,
                    "staff": rng.choice(sellers[code]),
                    "lines": _basket(rng, size),
                    "redeem": rng.random(),
                    "stored_value": rng.random(),
                    "tender": rng.choice(["mobile"] * 6 + ["cash"] * 2 + ["card"] * 2),
                },
            )
            events.append(event)
            sale_events.append(event)
            n += 1
        if profile != "light" and rng.random() < (0.2 if profile == "regular" else 0.6):
            for _ in range(rng.choice((1, 1, 2, 3))):
                at = _local(since.date() + timedelta(days=rng.randrange(span)), rng)
                if not since <= at <= until:
                    continue
                code = at_store(member)
                package = rng.choice((0, 1, 1, 2, None)) if size else rng.choice((0, 0, 1, None))
                events.append(
                    Event(
                        at,
                        n,
                        "topup",
                        {
                            "member": member,
                            "store": code,
                            "staff": rng.choice(sellers[code]),
                            "package": package,
                            "amount": Decimal(rng.choice((100, 300, 800))),
                            "tender": rng.choice(["mobile"] * 3 + ["cash", "card"]),
                        },
                    )
                )
                n += 1
    refunded = rng.sample(sale_events, k=min(len(sale_events), max(1, len(sale_events) // 50)))
    for event in refunded:
        at = min(event.at + timedelta(hours=rng.randrange(1, 96)), now - timedelta(minutes=30))
        events.append(
            Event(at, n, "refund", {"sale": event.data["n"], "reason": rng.choice(REFUND_REASONS), "r": rng.random()})
        )
        n += 1
    adjusted = rng.sample(members, k=min(len(members), max(1, len(members) // 60)))
    for member in adjusted:
        at = _local((max(start, member.registered_at) + timedelta(days=rng.randrange(30))).date(), rng)
        data = {"member": member, "reason": rng.choice(ADJUST_REASONS), "points": rng.choice((50, 100, 200, 500))}
        events.append(Event(min(at, now - timedelta(hours=1)), n, "adjust", data))
        n += 1
    return sorted(events)


@dataclass
class Counts:
    sales: int = 0
    topups: int = 0
    refunds: int = 0
    adjustments: int = 0
    redemptions: int = 0
    stored_value_sales: int = 0
    skipped: int = 0


def _sell(event: Event, ctx: DemoContext, policy: LoyaltySettings, sales: dict, counts: Counts) -> None:
    data = event.data
    member = data["member"]
    account = PointsAccount.objects.filter(pk=member.pk).values_list("available", flat=True).first() or 0
    wallet = Wallet.objects.filter(pk=member.pk).first()
    stats = MemberStats.objects.filter(pk=member.pk).select_related("tier").first()
    # The same arithmetic as checkout, so the tenders add up to what is due.
    subtotal = sum((money(line.quantity * line.unit_price) for line in data["lines"]), Decimal(0))
    tier = stats.tier if stats else None
    due = subtotal - (money(subtotal * tier.discount_percent / 100) if tier and tier.discount_percent else 0)
    points = 0
    if account >= 500 and data["redeem"] < 0.3:
        points = max_redeemable_points(due=due, available=account, policy=policy)
    total = due - points_value(points, policy)
    tenders = []
    if wallet is not None and wallet.balance > 0 and data["stored_value"] < 0.7 and total > 0:
        from_wallet = _float_safe_wallet_amount(wallet, min(wallet.balance, total), total, policy)
        if from_wallet > 0:
            tenders.append(TenderInput(SaleTender.Kind.STORED_VALUE, from_wallet))
            total -= from_wallet
    if total > 0:
        tenders.append(TenderInput(data["tender"], total))
    sale = sale_checkout(
        request_id=f"demo-sale-{data['n']}",
        store=ctx.stores[data["store"]],
        cashier=data["staff"],
        member=member,
        lines=data["lines"],
        tenders=tenders,
        points_to_redeem=points,
        client_time=event.at,
    )
    sales[data["n"]] = sale
    counts.sales += 1
    counts.redemptions += bool(points)
    counts.stored_value_sales += any(t.kind == SaleTender.Kind.STORED_VALUE for t in tenders)


def _float_safe_wallet_amount(wallet: Wallet, amount: Decimal, due: Decimal, policy: LoyaltySettings) -> Decimal:
    """The stored-value amount, a few cents lower where needed so that money + principal + bonus also
    equals the amount due in binary floating point.

    SQLite keeps DECIMAL columns as REAL, so the Sale CHECK "total_due = paid_money + paid_principal +
    paid_bonus" is evaluated in doubles there and refuses about one split in three (e.g. 499.65 +
    899.78 + 35.48 ≠ 1434.91). Until the model's constraint rounds, the demo steers around it.
    """
    for _ in range(50):
        if amount <= 0:
            break
        principal, bonus = split_spend(wallet, amount, policy)
        if float(due) == (float(due - amount) + float(principal)) + float(bonus):
            return amount
        amount -= Decimal("0.01")
    return Decimal("0.00")


def _refund(event: Event, ctx: DemoContext, refunders: dict, sales: dict, counts: Counts, k: int) -> None:
    sale = sales.get(event.data["sale"])
    if sale is None:
        return
    code = next(c for c, s in ctx.stores.items() if s.pk == sale.store_id)
    actor, approver = refunders[code]
    lines = list(sale.lines.all())
    kwargs = {}
    if len(lines) > 1 and event.data["r"] < 0.5:
        kwargs["lines"] = [RefundLineInput(line_no=lines[-1].line_no, quantity=lines[-1].quantity)]
    else:
        kwargs["amount"] = sale.paid_total
    sale_refund(
        request_id=f"demo-refund-{k}", sale=sale, actor=actor, approver=approver, reason=event.data["reason"], **kwargs
    )
    counts.refunds += 1


def demo_loyalty(ctx: DemoContext) -> None:
    rng = random.Random(f"loyalty-{ctx.options.seed}")  # its own generator: later steps see the same ctx.rng
    loaded = Sale.objects.filter(request_id=FIRST_SALE_ID).exists()
    _rules(ctx, fresh=not loaded)
    if loaded:
        ctx.summary.append(_summary(prefix="loyalty history already loaded: "))
        return
    sellers, refunders, hq = _staffing(ctx)
    everyone = list(Member.objects.order_by("code"))
    if not sellers or not everyone or hq is None:
        ctx.summary.append("loyalty: rules only (no members or store staff to make history with)")
        return
    active = sorted(rng.sample(everyone, k=min(600, max(1, len(everyone) * 3 // 10))), key=lambda m: m.code)
    now = timezone.now()
    events = _plan(ctx, rng, active, sellers, now)
    policy = LoyaltySettings.current()
    packages = list(RechargePackage.objects.order_by("pay_amount"))
    sales: dict[int, Sale] = {}
    counts = Counts()
    clock = Clock(now - timedelta(days=HISTORY_DAYS + 1))
    night = timezone.localdate(clock.at)
    bar = tqdm(total=len(events), desc="loyalty", unit="event", file=ctx.progress, disable=ctx.progress is None)
    with mock.patch("django.utils.timezone.now", new=clock):
        for event in events:
            # The nightly jobs of every day before this event, at 02:00 as Celery beat runs them.
            while night < timezone.localdate(event.at):
                night += timedelta(days=1)
                clock.at = timezone.make_aware(datetime.combine(night, time(2)))
                points_expire_due(now=clock.at)
                tiers_evaluate(now=clock.at)
            clock.at = event.at
            try:
                if event.kind == "sale":
                    _sell(event, ctx, policy, sales, counts)
                elif event.kind == "topup":
                    index = event.data["package"]
                    wallet_top_up(
                        request_id=f"demo-topup-{counts.topups}",
                        member=event.data["member"],
                        store=ctx.stores[event.data["store"]],
                        staff=event.data["staff"],
                        tender=event.data["tender"],
                        package=packages[index] if index is not None else None,
                        amount=None if index is not None else event.data["amount"],
                    )
                    counts.topups += 1
                elif event.kind == "refund":
                    _refund(event, ctx, refunders, sales, counts, counts.refunds)
                elif event.kind == "adjust":
                    points_adjust(
                        request_id=f"demo-adjust-{counts.adjustments}",
                        member=event.data["member"],
                        points=event.data["points"],
                        reason=event.data["reason"],
                        actor=hq,
                    )
                    counts.adjustments += 1
            except (ValidationError, IntegrityError):
                # Each service call rolled its own savepoint back: the history goes on without it.
                counts.skipped += 1
            bar.update(1)
    bar.close()
    # Today's jobs, at the real time.
    points_expire_due()
    tiers_evaluate()
    ctx.summary.append(
        _summary(prefix="")
        + f" ({counts.redemptions} paid partly with points, {counts.stored_value_sales} with stored value"
        + (f"; {counts.skipped} events refused by the services" if counts.skipped else "")
        + ")"
    )


def _summary(*, prefix: str) -> str:
    tiers = dict(
        MemberStats.objects.filter(tier__rank__gt=0)
        .values_list("tier__name")
        .annotate(n=Count("pk"))
        .values_list("tier__name", "n")
    )
    tier_text = ", ".join(f"{name} {n}" for name, n in sorted(tiers.items())) or "none"
    return (
        f"{prefix}{Sale.objects.count()} sales, {Refund.objects.count()} refunds, {TopUp.objects.count()} top-ups, "
        f"{PointsEntry.objects.count()} points entries, {PointsLot.objects.count()} lots, "
        f"{WalletEntry.objects.count()} stored-value entries; members above 普通会员: {tier_text}"
    )
