"""How many points a sale earns. Pure given its inputs; the rule and multipliers are explained."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, Decimal

from django.db.models import Q

from loyalty.models import EarningRule, Tier


@dataclass
class EarnLine:
    category: str
    sku: str
    net_amount: Decimal


@dataclass
class EarnResult:
    points: int
    eligible_amount: Decimal
    rule: EarningRule | None
    multiplier: Decimal
    explanation: list[str] = field(default_factory=list)


def rule_for(*, store_id: int, day: date) -> EarningRule | None:
    """The active rule with the highest priority that covers this store and day."""
    rules = (
        EarningRule.objects.filter(is_active=True)
        .filter(Q(starts_on__isnull=True) | Q(starts_on__lte=day))
        .filter(Q(ends_on__isnull=True) | Q(ends_on__gte=day))
        .filter(Q(stores__isnull=True) | Q(stores__id=store_id))
        .order_by("-priority", "pk")
    )
    return rules.first()


def active_rules() -> list[EarningRule]:
    """Every active rule with its stores, in the order rule_for() ranks them (for pick_rule)."""
    return list(EarningRule.objects.filter(is_active=True).prefetch_related("stores").order_by("-priority", "pk"))


def pick_rule(rules: list[EarningRule], *, store_id: int, day: date) -> EarningRule | None:
    """rule_for() without a query, over active_rules(): for imports that price many sales at once."""
    for rule in rules:
        if rule.starts_on is not None and rule.starts_on > day:
            continue
        if rule.ends_on is not None and rule.ends_on < day:
            continue
        stores = rule.stores.all()
        if stores and not any(store.pk == store_id for store in stores):
            continue
        return rule
    return None


def combined_multiplier(rule: EarningRule, factors: list[Decimal]) -> Decimal:
    factors = [f for f in factors if f != 1]
    if not factors:
        return Decimal(1)
    if rule.combine == EarningRule.Combine.ADD:
        return 1 + sum((f - 1 for f in factors), Decimal(0))
    if rule.combine == EarningRule.Combine.BEST:
        return max(factors)
    product = Decimal(1)
    for f in factors:
        product *= f
    return product


# Where extra multipliers come from (campaigns: double points for a campaign's target group, a win-back
# gift). A source answers [(multiplier, why)] for a member at a moment; loyalty must not import campaigns.
_boost_sources: list[Callable[..., list[tuple[Decimal, str]]]] = []


def register_points_boost_source(source: Callable[..., list[tuple[Decimal, str]]]) -> None:
    """`source(member=..., at=...)` → [(multiplier, label)]; call from AppConfig.ready()."""
    if source not in _boost_sources:
        _boost_sources.append(source)


def points_boosts(*, member, at) -> list[tuple[Decimal, str]]:
    return [boost for source in _boost_sources for boost in source(member=member, at=at)]


def points_for_sale(
    *,
    rule: EarningRule | None,
    lines: list[EarnLine],
    money_paid: Decimal,
    day: date,
    birth_month: int | None,
    tier: Tier | None,
    earned_today: int,
    boosts: list[tuple[Decimal, str]] = (),
) -> EarnResult:
    """Points = floor(eligible money × rate × multiplier), then the per-sale and per-day caps.

    Eligible money is the part of what was paid with money (not discounts, points or bonus
    value) that falls on lines whose category and SKU the rule does not exclude, in proportion to
    each line's amount after discounts.
    """
    if rule is None or money_paid <= 0:
        return EarnResult(0, Decimal("0.00"), rule, Decimal(1), ["no earning rule applies" if rule is None else ""])
    total_net = sum((line.net_amount for line in lines), Decimal(0))
    excluded_categories = set(rule.excluded_categories or [])
    excluded_skus = set(rule.excluded_skus or [])
    eligible_net = sum(
        (
            line.net_amount
            for line in lines
            if line.category not in excluded_categories and (not line.sku or line.sku not in excluded_skus)
        ),
        Decimal(0),
    )
    eligible = (
        (money_paid * eligible_net / total_net).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        if total_net
        else Decimal("0.00")
    )
    factors = []
    explanation = [f"{rule.name}: {rule.points_per_yuan}/¥ on ¥{eligible}"]
    if rule.member_day_weekday is not None and day.weekday() == rule.member_day_weekday:
        factors.append(rule.member_day_multiplier)
        explanation.append(f"member day ×{rule.member_day_multiplier}")
    if birth_month == day.month:
        factors.append(rule.birthday_month_multiplier)
        explanation.append(f"birthday month ×{rule.birthday_month_multiplier}")
    if rule.use_tier_multiplier and tier is not None:
        factors.append(tier.points_multiplier)
        explanation.append(f"{tier.name} ×{tier.points_multiplier}")
    for multiplier, label in boosts:
        factors.append(multiplier)
        explanation.append(f"{label} ×{multiplier}")
    multiplier = combined_multiplier(rule, factors)
    points = int((eligible * rule.points_per_yuan * multiplier).to_integral_value(rounding=ROUND_FLOOR))
    if rule.per_sale_cap is not None and points > rule.per_sale_cap:
        points = rule.per_sale_cap
        explanation.append(f"capped at {rule.per_sale_cap} per sale")
    if rule.per_day_cap is not None and earned_today + points > rule.per_day_cap:
        points = max(0, rule.per_day_cap - earned_today)
        explanation.append(f"capped at {rule.per_day_cap} per day")
    return EarnResult(points, eligible, rule, multiplier, explanation)
