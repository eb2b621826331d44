"""Points, tiers, stored value, sales and refunds.

Invariants the database keeps (CHECK / UNIQUE) and `reconcile_ledger` proves:
  PointsAccount.available + pending == SUM(PointsEntry.points) == SUM(open PointsLot.remaining)
  PointsAccount.debt == SUM(PointsEntry.debt)
  Wallet.principal == SUM(WalletEntry.principal), Wallet.bonus == SUM(WalletEntry.bonus)
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower, Round
from django.utils.translation import gettext_lazy as _

from config.constraints import ConstraintErrorsMixin
from loyalty.reasons import points_reason_label
from members.models import Member
from stores.models import Store

ZERO = Decimal("0.00")
MONEY = {"max_digits": 12, "decimal_places": 2}


class LoyaltySettings(ConstraintErrorsMixin, models.Model):
    """The chain's points and stored-value policy: one row, edited by HQ in the admin."""

    class ExpiryPolicy(models.TextChoices):
        ROLLING = "rolling", _("Rolling: N months after earning, at the end of that day")
        ANNUAL = "annual", _("Annual clearing on a calendar date")
        NEVER = "never", _("Points never expire")

    class WalletSplit(models.TextChoices):
        PROPORTIONAL = "proportional", _("Proportional to the principal and bonus balances")
        PRINCIPAL_FIRST = "principal_first", _("Principal first, then bonus")
        BONUS_FIRST = "bonus_first", _("Bonus first, then principal")

    redeem_points_per_yuan = models.PositiveIntegerField(
        _("points per ¥1 when paying with points"), default=100, validators=[MinValueValidator(1)]
    )
    redeem_step = models.PositiveIntegerField(
        _("redeem in steps of (points)"), default=100, validators=[MinValueValidator(1)]
    )
    redeem_max_share = models.DecimalField(
        _("largest share of a sale payable with points"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
        help_text=_("0.50 means points may pay at most half of the amount due."),
    )
    expiry_policy = models.CharField(
        _("expiry policy"), max_length=16, choices=ExpiryPolicy.choices, default=ExpiryPolicy.ROLLING
    )
    expiry_months = models.PositiveIntegerField(_("months until points expire (rolling)"), default=12)
    annual_clearing_month = models.PositiveSmallIntegerField(_("annual clearing month"), default=12)
    annual_clearing_day = models.PositiveSmallIntegerField(
        _("annual clearing day"),
        default=31,
        help_text=_("The day of the month. 29 February clears on 28 February in other years."),
    )
    pending_days = models.PositiveIntegerField(
        _("days earned points stay pending"),
        default=0,
        help_text=_("A return window: pending points cannot be spent until it has passed."),
    )
    wallet_split = models.CharField(
        _("stored value spending order"),
        max_length=16,
        choices=WalletSplit.choices,
        default=WalletSplit.PROPORTIONAL,
    )
    wallet_earns_points = models.BooleanField(
        _("principal spent from stored value earns points"),
        default=True,
        help_text=_("Bonus value never earns points."),
    )
    signin_points = models.PositiveIntegerField(_("daily sign-in points"), default=5)
    signin_streak_days = models.PositiveIntegerField(_("sign-in streak length (days)"), default=7)
    signin_streak_bonus = models.PositiveIntegerField(_("bonus on the last day of a streak"), default=30)
    profile_completion_points = models.PositiveIntegerField(_("points for a completed profile"), default=50)
    review_points = models.PositiveIntegerField(_("points for a review"), default=10)
    share_points = models.PositiveIntegerField(_("points for a share"), default=5)
    referral_referrer_points = models.PositiveIntegerField(_("referral: points for the referrer"), default=200)
    referral_referred_points = models.PositiveIntegerField(_("referral: points for the new member"), default=100)
    referral_min_purchase = models.DecimalField(
        _("referral: smallest qualifying first purchase"), default=Decimal("1.00"), **MONEY
    )
    referral_monthly_cap = models.PositiveIntegerField(
        _("referral: rewarded referrals per referrer per month"), default=10
    )
    manager_adjust_max_per_operation = models.PositiveIntegerField(
        _("store manager: largest manual adjustment (points)"), default=500
    )
    manager_adjust_max_per_day = models.PositiveIntegerField(
        _("store manager: manual adjustments per day (points, in total)"), default=2000
    )
    refund_window_days = models.PositiveIntegerField(
        _("refund window (days)"),
        default=7,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Store staff may refund a sale for this many days after it was made; after that only HQ, with a reason."
        ),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    constraint_error_fields = {
        "settings_clearing_date_exists": "annual_clearing_day",
        "settings_manager_caps_ordered": "manager_adjust_max_per_operation",
    }

    class Meta:
        verbose_name = _("loyalty settings")
        verbose_name_plural = _("loyalty settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(redeem_max_share__gte=0) & Q(redeem_max_share__lte=1),
                name="settings_max_share_0_1",
                violation_error_code="out_of_range",
                violation_error_message=_(
                    "The share is from 0 to 1: 0.50 means points pay at most half of the amount due."
                ),
            ),
            models.CheckConstraint(
                condition=Q(annual_clearing_month__gte=1) & Q(annual_clearing_month__lte=12),
                name="settings_clearing_month",
                violation_error_code="out_of_range",
                violation_error_message=_("The month is from 1 to 12."),
            ),
            models.CheckConstraint(
                condition=Q(annual_clearing_day__gte=1) & Q(annual_clearing_day__lte=31),
                name="settings_clearing_day",
                violation_error_code="out_of_range",
                violation_error_message=_("The day is from 1 to 31."),
            ),
            # 29 February is a date: in other years points clear on 28 February (services.policy.expiry_for).
            models.CheckConstraint(
                condition=Q(annual_clearing_day__lte=29)
                | (Q(annual_clearing_day=30) & ~Q(annual_clearing_month=2))
                | Q(annual_clearing_month__in=[1, 3, 5, 7, 8, 10, 12]),
                name="settings_clearing_date_exists",
                violation_error_code="invalid_date",
                violation_error_message=_("That month has no such day."),
            ),
            models.CheckConstraint(
                condition=Q(redeem_points_per_yuan__gte=1),
                name="settings_redeem_rate_positive",
                violation_error_code="min_value",
                violation_error_message=_("Points per ¥1 must be at least 1."),
            ),
            models.CheckConstraint(
                condition=Q(redeem_step__gte=1),
                name="settings_redeem_step_positive",
                violation_error_code="min_value",
                violation_error_message=_("The redemption step is at least 1 point."),
            ),
            models.CheckConstraint(
                condition=Q(expiry_months__gte=1),
                name="settings_expiry_months_positive",
                violation_error_code="min_value",
                violation_error_message=_("Points stay valid for at least 1 month."),
            ),
            models.CheckConstraint(
                condition=Q(referral_min_purchase__gte=0),
                name="settings_referral_min_purchase_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The smallest qualifying purchase cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(manager_adjust_max_per_operation__lte=F("manager_adjust_max_per_day")),
                name="settings_manager_caps_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("The largest single adjustment cannot be above the daily total."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Loyalty settings"))

    @classmethod
    def current(cls) -> "LoyaltySettings":
        return cls.objects.order_by("pk").first() or cls.objects.create()


class Tier(ConstraintErrorsMixin, models.Model):
    class Metric(models.TextChoices):
        SPEND = "spend", _("Qualifying spend (¥) over the window")
        POINTS = "points", _("Points earned over the window")
        VISITS = "visits", _("Visits (sales) over the window")

    code = models.CharField(
        _("code"), max_length=16, unique=True, error_messages={"unique": _("Another tier has this code.")}
    )
    name = models.CharField(_("name"), max_length=32)
    rank = models.PositiveSmallIntegerField(
        _("rank"),
        unique=True,
        help_text=_("0 is the entry level."),
        error_messages={"unique": _("Another tier has this rank.")},
    )
    threshold = models.DecimalField(
        _("threshold"),
        default=ZERO,
        validators=[MinValueValidator(0)],
        help_text=_("In the unit of the tier policy's metric: ¥ of spend, points or visits over the window."),
        **MONEY,
    )
    discount_percent = models.DecimalField(
        _("discount %"),
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(0)],
        help_text=_("Percent off the price: 10 means members of this tier pay 90 %."),
    )
    points_multiplier = models.DecimalField(_("points multiplier"), max_digits=5, decimal_places=2, default=1)
    birthday_points = models.PositiveIntegerField(_("birthday reward points"), default=0)
    free_shipping = models.BooleanField(_("free shipping (for integrations)"), default=False)

    class Meta:
        verbose_name = _("tier")
        verbose_name_plural = _("tiers")
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_percent__gte=0) & Q(discount_percent__lt=100),
                name="tier_discount_range",
                violation_error_code="out_of_range",
                violation_error_message=_(
                    "The discount is from 0 to less than 100: 10 means members of this tier pay 90 percent."
                ),
            ),
            models.CheckConstraint(
                condition=Q(points_multiplier__gt=0),
                name="tier_multiplier_positive",
                violation_error_code="min_value",
                violation_error_message=_("The points multiplier must be above 0: 1 earns the usual points."),
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0),
                name="tier_threshold_positive",
                violation_error_code="min_value",
                violation_error_message=_("The threshold cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TierPolicy(ConstraintErrorsMixin, models.Model):
    metric = models.CharField(_("qualification metric"), max_length=8, choices=Tier.Metric.choices, default="spend")
    window_days = models.PositiveIntegerField(_("rolling window (days)"), default=365)
    retention_days = models.PositiveIntegerField(
        _("days a tier is kept before it can drop"),
        default=365,
        help_text=_("Downgrades happen only at evaluation, and not before the member held the tier this long."),
    )

    class Meta:
        verbose_name = _("tier policy")
        verbose_name_plural = _("tier policy")
        constraints = [
            models.CheckConstraint(
                condition=Q(window_days__gte=1),
                name="tier_policy_window_positive",
                violation_error_code="min_value",
                violation_error_message=_("The window is at least 1 day."),
            )
        ]

    def __str__(self) -> str:
        return str(_("Tier policy"))

    @classmethod
    def current(cls) -> "TierPolicy":
        return cls.objects.order_by("pk").first() or cls.objects.create()


class EarningRule(ConstraintErrorsMixin, models.Model):
    """How many points a sale earns. The matching active rule with the highest priority applies."""

    class Combine(models.TextChoices):
        MULTIPLY = "multiply", _("Multiply: 2× member day and 1.5× tier make 3×")
        ADD = "add", _("Add the extras: 2× and 1.5× make 1 + 1 + 0.5 = 2.5×")
        BEST = "best", _("Best of: 2× and 1.5× make 2×")

    name = models.CharField(_("name"), max_length=64)
    is_active = models.BooleanField(_("active"), default=True)
    priority = models.IntegerField(_("priority"), default=0)
    points_per_yuan = models.DecimalField(
        _("points per ¥1 paid with money"), max_digits=8, decimal_places=2, default=Decimal("1.00")
    )
    stores = models.ManyToManyField(
        Store, verbose_name=_("stores"), blank=True, related_name="+", help_text=_("Empty: every store.")
    )
    starts_on = models.DateField(_("from"), null=True, blank=True)
    ends_on = models.DateField(_("until"), null=True, blank=True)
    excluded_categories = models.JSONField(_("excluded categories"), default=list, blank=True)
    excluded_skus = models.JSONField(_("excluded SKUs"), default=list, blank=True)
    member_day_weekday = models.PositiveSmallIntegerField(
        _("member day"),
        null=True,
        blank=True,
        choices=[
            (0, _("Monday")),
            (1, _("Tuesday")),
            (2, _("Wednesday")),
            (3, _("Thursday")),
            (4, _("Friday")),
            (5, _("Saturday")),
            (6, _("Sunday")),
        ],
    )
    member_day_multiplier = models.DecimalField(_("member day multiplier"), max_digits=5, decimal_places=2, default=1)
    birthday_month_multiplier = models.DecimalField(
        _("birthday month multiplier"), max_digits=5, decimal_places=2, default=1
    )
    use_tier_multiplier = models.BooleanField(_("apply the tier's multiplier"), default=True)
    combine = models.CharField(_("how multipliers combine"), max_length=8, choices=Combine.choices, default="multiply")
    per_sale_cap = models.PositiveIntegerField(_("at most per sale"), null=True, blank=True)
    per_day_cap = models.PositiveIntegerField(_("at most per member per day"), null=True, blank=True)

    constraint_error_fields = {"rule_dates_ordered": "ends_on", "rule_caps_ordered": "per_sale_cap"}

    class Meta:
        verbose_name = _("earning rule")
        verbose_name_plural = _("earning rules")
        ordering = ["-priority", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_per_yuan__gte=0),
                name="rule_rate_positive",
                violation_error_code="min_value",
                violation_error_message=_("Points per ¥1 cannot be negative (0 earns no points)."),
            ),
            # A member day or a birthday month is a bonus: 1 earns the usual points, below 1 would earn fewer.
            models.CheckConstraint(
                condition=Q(member_day_multiplier__gte=1),
                name="rule_member_day_multiplier_min",
                violation_error_code="min_value",
                violation_error_message=_(
                    "The member day multiplier is at least 1: 1 earns the usual points, 2 double."
                ),
            ),
            models.CheckConstraint(
                condition=Q(birthday_month_multiplier__gte=1),
                name="rule_birthday_multiplier_min",
                violation_error_code="min_value",
                violation_error_message=_(
                    "The birthday month multiplier is at least 1: 1 earns the usual points, 2 double."
                ),
            ),
            # Empty is no cap; a cap of 0 would be a rule that earns nothing (a rate of 0 says that).
            models.CheckConstraint(
                condition=Q(per_sale_cap__isnull=True) | Q(per_sale_cap__gte=1),
                name="rule_per_sale_cap_positive",
                violation_error_code="min_value",
                violation_error_message=_("Leave it empty for no limit, or give a number above zero."),
            ),
            models.CheckConstraint(
                condition=Q(per_day_cap__isnull=True) | Q(per_day_cap__gte=1),
                name="rule_per_day_cap_positive",
                violation_error_code="min_value",
                violation_error_message=_("Leave it empty for no limit, or give a number above zero."),
            ),
            models.CheckConstraint(
                condition=Q(per_sale_cap__isnull=True)
                | Q(per_day_cap__isnull=True)
                | Q(per_sale_cap__lte=F("per_day_cap")),
                name="rule_caps_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("The cap per sale cannot be above the cap per member per day."),
            ),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True) | Q(ends_on__isnull=True) | Q(starts_on__lte=F("ends_on")),
                name="rule_dates_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("The end is before the start."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PointsAccount(ConstraintErrorsMixin, models.Model):
    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="points_account", primary_key=True
    )
    available = models.IntegerField(_("available"), default=0)
    pending = models.IntegerField(
        _("pending"), default=0, help_text=_("Earned but not spendable until the return window has passed.")
    )
    debt = models.IntegerField(
        _("debt"),
        default=0,
        help_text=_("Points clawed back by refunds after the member had spent them; settled from future earnings."),
    )
    lifetime_earned = models.BigIntegerField(_("earned in total"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("points account")
        verbose_name_plural = _("points accounts")
        constraints = [
            models.CheckConstraint(
                condition=Q(available__gte=0),
                name="points_available_not_negative",
                violation_error_code="insufficient_points",
                violation_error_message=_("Not enough points: the balance cannot go below zero."),
            ),
            models.CheckConstraint(
                condition=Q(pending__gte=0),
                name="points_pending_not_negative",
                violation_error_code="insufficient_points",
                violation_error_message=_("Pending points cannot go below zero."),
            ),
            models.CheckConstraint(
                condition=Q(debt__gte=0),
                name="points_debt_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("A points debt cannot go below zero."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.available}"


class PointsEntry(ConstraintErrorsMixin, models.Model):
    """One append-only movement. `points` changes the lots (available + pending); `debt` the debt."""

    class Kind(models.TextChoices):
        EARN = "earn", _("Earned")
        REDEEM = "redeem", _("Redeemed")
        EXPIRE = "expire", _("Expired")
        ADJUST = "adjust", _("Manual adjustment")
        CLAWBACK = "clawback", _("Clawed back by a refund")
        RESTORE = "restore", _("Restored by a refund")
        DEBT_SETTLEMENT = "debt_settlement", _("Settled debt")
        UNLOCK = "unlock", _("Pending points unlocked")
        BEHAVIOUR = "behaviour", _("Behaviour reward")
        OPENING = "opening", _("Opening balance")
        MALL = "mall", _("Points mall")
        MALL_REFUND = "mall_refund", _("Points mall order cancelled")
        BIRTHDAY = "birthday", _("Birthday points")

    # No index of its own: points_entry_member_idx starts with it.
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    points = models.IntegerField(_("points"))
    debt = models.IntegerField(
        _("debt change"), default=0, help_text=_("Positive: debt created; negative: debt settled.")
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=80,
        help_text=_("Unique per member: the same movement is never recorded twice."),
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    sale = models.ForeignKey(
        "Sale", verbose_name=_("sale"), on_delete=models.PROTECT, null=True, blank=True, related_name="points_entries"
    )
    refund = models.ForeignKey(
        "Refund",
        verbose_name=_("refund"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_entries",
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("points entry")
        verbose_name_plural = _("points ledger")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-id"], name="points_entry_member_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "idempotency_key"],
                name="points_entry_idempotent",
                violation_error_code="duplicate",
                violation_error_message=_("This points movement has been recorded already."),
            ),
            # A manual adjustment's key is its request id, unique across members (as wallet payouts').
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(kind="adjust"),
                name="points_adjust_request_once",
                violation_error_code="duplicate",
                violation_error_message=_("This adjustment's request id has been used already."),
            ),
            models.CheckConstraint(
                condition=~Q(idempotency_key=""),
                name="points_entry_key_not_empty",
                violation_error_code="required",
                violation_error_message=_("A points movement needs its idempotency key."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.points:+d}"

    @property
    def reason_display(self) -> str:
        return points_reason_label(self.kind, self.reason)


class PointsLot(ConstraintErrorsMixin, models.Model):
    """Points earned together, with their own expiry; redemptions take from the soonest-expiring lot."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+")
    entry = models.OneToOneField(PointsEntry, verbose_name=_("earned by"), on_delete=models.PROTECT, related_name="lot")
    points = models.IntegerField(_("points"))
    remaining = models.IntegerField(_("remaining"))
    available_at = models.DateTimeField(_("spendable from"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    is_pending = models.BooleanField(_("pending"), default=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("points lot")
        verbose_name_plural = _("points lots")
        indexes = [
            models.Index(
                fields=["member", "expires_at", "id"], name="points_lot_open_idx", condition=Q(remaining__gt=0)
            ),
            models.Index(fields=["expires_at"], name="points_lot_expiry_idx", condition=Q(remaining__gt=0)),
            models.Index(fields=["available_at"], name="points_lot_pending_idx", condition=Q(is_pending=True)),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remaining__gte=0),
                name="points_lot_remaining_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The points left in a lot cannot go below zero."),
            ),
            models.CheckConstraint(
                condition=Q(remaining__lte=F("points")),
                name="points_lot_remaining_le_points",
                violation_error_code="max_value",
                violation_error_message=_("A points lot cannot have more left than it was given."),
            ),
            models.CheckConstraint(
                condition=Q(points__gt=0),
                name="points_lot_positive",
                violation_error_code="min_value",
                violation_error_message=_("A points lot holds at least 1 point."),
            ),
        ]

    def __str__(self) -> str:
        return f"lot {self.pk}: {self.remaining}/{self.points}"


class PointsAllocation(ConstraintErrorsMixin, models.Model):
    """How many points an entry took from (or gave back to) one lot."""

    # No index of its own: points_allocation_once starts with it.
    entry = models.ForeignKey(
        PointsEntry,
        verbose_name=_("points entry"),
        on_delete=models.PROTECT,
        related_name="allocations",
        db_index=False,
    )
    lot = models.ForeignKey(
        PointsLot, verbose_name=_("points lot"), on_delete=models.PROTECT, related_name="allocations"
    )
    points = models.IntegerField(
        _("points"), help_text=_("Negative: taken from the lot; positive: given back to it (e.g. by a refund).")
    )

    class Meta:
        verbose_name = _("points allocation")
        verbose_name_plural = _("points allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "lot"],
                name="points_allocation_once",
                violation_error_code="duplicate",
                violation_error_message=_("This movement took from this lot already."),
            ),
            models.CheckConstraint(
                condition=~Q(points=0),
                name="points_allocation_not_zero",
                violation_error_code="invalid",
                violation_error_message=_("An allocation moves at least 1 point."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.entry_id} → lot {self.lot_id}: {self.points:+d}"


class MemberStats(ConstraintErrorsMixin, models.Model):
    """Purchase statistics kept by checkout and refunds; tiers and analytics read them."""

    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="stats", primary_key=True
    )
    tier = models.ForeignKey(
        Tier, verbose_name=_("tier"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    tier_since = models.DateTimeField(_("tier since"), null=True, blank=True)
    first_purchase_at = models.DateTimeField(_("first purchase"), null=True, blank=True)
    last_purchase_at = models.DateTimeField(_("last purchase"), null=True, blank=True, db_index=True)
    purchase_count = models.PositiveIntegerField(_("purchases"), default=0)
    total_spend = models.DecimalField(
        _("total spend"),
        default=ZERO,
        help_text=_("Paid with money and stored value, before refunds; points used as payment are not spend."),
        **MONEY,
    )
    total_refunded = models.DecimalField(_("total refunded"), default=ZERO, **MONEY)

    class Meta:
        verbose_name = _("member statistics")
        verbose_name_plural = _("member statistics")

    def __str__(self) -> str:
        return f"stats of {self.member_id}"


class MemberDailySpend(ConstraintErrorsMixin, models.Model):
    """One row per member and business day: rolling windows are sums over a date range."""

    # No index of its own: daily_spend_once starts with it.
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField(_("business day"), help_text=_("The local (China time) day of the purchases."))
    spend = models.DecimalField(
        _("qualifying spend"),
        default=ZERO,
        help_text=_("Paid with money and stored value that day, less what was refunded."),
        **MONEY,
    )
    visits = models.IntegerField(_("visits"), default=0, help_text=_("Sales to the member that day."))
    points_earned = models.IntegerField(_("points earned"), default=0)

    class Meta:
        verbose_name = _("daily member spend")
        verbose_name_plural = _("daily member spend")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "day"],
                name="daily_spend_once",
                violation_error_code="duplicate",
                violation_error_message=_("The member's spend of this day is recorded already."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day}: ¥{self.spend}"


class TierChange(ConstraintErrorsMixin, models.Model):
    class Reason(models.TextChoices):
        UPGRADE = "upgrade", _("Upgraded by a purchase")
        EVALUATION = "evaluation", _("Periodic evaluation")
        REFUND = "refund", _("Reverted by a refund")
        MANUAL = "manual", _("Set by HQ")
        IMPORT = "import", _("Upgraded by imported purchase history")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(
        Tier, verbose_name=_("from tier"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    to_tier = models.ForeignKey(Tier, verbose_name=_("to tier"), on_delete=models.PROTECT, null=True, related_name="+")
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices)
    sale = models.ForeignKey(
        "Sale",
        verbose_name=_("sale"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The sale (or refunded sale) behind the change; empty for an evaluation or a change by HQ."),
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier history")

    def __str__(self) -> str:
        return f"{self.member_id}: {self.from_tier_id} → {self.to_tier_id}"


class RechargePackage(ConstraintErrorsMixin, models.Model):
    """充500送50: pay 500, get 500 principal and 50 bonus."""

    name = models.CharField(_("name"), max_length=64)
    pay_amount = models.DecimalField(_("pay"), validators=[MinValueValidator(Decimal("0.01"))], **MONEY)
    bonus_amount = models.DecimalField(_("bonus"), default=ZERO, validators=[MinValueValidator(0)], **MONEY)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("recharge package")
        verbose_name_plural = _("recharge packages")
        ordering = ["pay_amount"]
        constraints = [
            models.CheckConstraint(
                condition=Q(pay_amount__gt=0),
                name="package_pay_positive",
                violation_error_code="min_value",
                violation_error_message=_("The amount to pay must be above zero."),
            ),
            models.CheckConstraint(
                condition=Q(bonus_amount__gte=0),
                name="package_bonus_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The bonus cannot be negative."),
            ),
            # The till lists active packages by name; a package no longer sold may share its name with a new one.
            models.UniqueConstraint(
                Lower("name"),
                condition=Q(is_active=True),
                name="package_name_unique",
                violation_error_code="unique",
                violation_error_message=_("Another active recharge package has this name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Wallet(ConstraintErrorsMixin, models.Model):
    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="wallet", primary_key=True
    )
    principal = models.DecimalField(
        _("principal"), default=ZERO, help_text=_("What the member paid in; refundable."), **MONEY
    )
    bonus = models.DecimalField(
        _("bonus"), default=ZERO, help_text=_("Given free with recharge packages; never refunded."), **MONEY
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stored-value wallet")
        verbose_name_plural = _("stored-value wallets")
        constraints = [
            models.CheckConstraint(
                condition=Q(principal__gte=0),
                name="wallet_principal_not_negative",
                violation_error_code="insufficient_stored_value",
                violation_error_message=_("Not enough stored value: the principal cannot go below zero."),
            ),
            models.CheckConstraint(
                condition=Q(bonus__gte=0),
                name="wallet_bonus_not_negative",
                violation_error_code="insufficient_stored_value",
                violation_error_message=_("Not enough stored value: the bonus cannot go below zero."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: ¥{self.principal} + ¥{self.bonus}"

    @property
    def balance(self) -> Decimal:
        return self.principal + self.bonus


class TopUp(ConstraintErrorsMixin, models.Model):
    class Tender(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Bank card")
        MOBILE = "mobile", _("WeChat Pay / Alipay")

    request_id = models.CharField(
        _("request id"),
        max_length=64,
        unique=True,
        help_text=_("Made by the till for each top-up; a top-up sent twice is recorded once."),
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="topups")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), on_delete=models.PROTECT, null=True, related_name="+"
    )
    package = models.ForeignKey(
        RechargePackage,
        verbose_name=_("recharge package"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty for a custom amount."),
    )
    amount = models.DecimalField(_("paid"), **MONEY)
    bonus = models.DecimalField(_("bonus"), default=ZERO, **MONEY)
    tender = models.CharField(_("tender"), max_length=8, choices=Tender.choices)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("top-up")
        verbose_name_plural = _("top-ups")
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="topup_amount_positive",
                violation_error_code="min_value",
                violation_error_message=_("A top-up must be above zero."),
            ),
            models.CheckConstraint(
                condition=Q(bonus__gte=0),
                name="topup_bonus_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The bonus cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return f"top-up {self.request_id} ¥{self.amount}"


class WalletEntry(ConstraintErrorsMixin, models.Model):
    class Kind(models.TextChoices):
        TOP_UP = "top_up", _("Top-up")
        SPEND = "spend", _("Spent at checkout")
        RESTORE = "restore", _("Restored by a refund")
        WITHDRAW = "withdraw", _("Principal refunded to the member")
        OPENING = "opening", _("Opening balance")
        FORFEIT = "forfeit", _("Forfeited when the member was erased")

    # No index of its own: wallet_entry_member_idx starts with it.
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    principal = models.DecimalField(
        _("principal change"), help_text=_("Positive: into the wallet; negative: out of it."), **MONEY
    )
    bonus = models.DecimalField(
        _("bonus change"), help_text=_("Positive: into the wallet; negative: out of it."), **MONEY
    )
    idempotency_key = models.CharField(
        _("idempotency key"),
        max_length=80,
        help_text=_("Unique per member: the same movement is never recorded twice."),
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    sale = models.ForeignKey(
        "Sale", verbose_name=_("sale"), on_delete=models.PROTECT, null=True, blank=True, related_name="wallet_entries"
    )
    refund = models.ForeignKey(
        "Refund",
        verbose_name=_("refund"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet_entries",
    )
    topup = models.ForeignKey(
        TopUp, verbose_name=_("top-up"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A database default too: imports write this table with INSERT … SELECT.
    reason = models.CharField(_("reason"), max_length=255, blank=True, default="", db_default="")
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("wallet entry")
        verbose_name_plural = _("stored-value ledger")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-id"], name="wallet_entry_member_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "idempotency_key"],
                name="wallet_entry_idempotent",
                violation_error_code="duplicate",
                violation_error_message=_("This stored-value movement has been recorded already."),
            ),
            # A payout's key is its request id, unique across members: the same request for another member
            # is a different request, refused (loyalty.services.idempotency).
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=Q(kind="withdraw"),
                name="wallet_withdraw_request_once",
                violation_error_code="duplicate",
                violation_error_message=_("This payout's request id has been used already."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.principal:+} / {self.bonus:+}"


class Sale(ConstraintErrorsMixin, models.Model):
    class ReviewReason(models.TextChoices):
        POINTS_UNAVAILABLE = "points_unavailable", _("Points no longer available")
        COUPON_UNAVAILABLE = "coupon_unavailable", _("Coupon no longer usable")
        STORED_VALUE_UNAVAILABLE = "stored_value_unavailable", _("Stored value short")
        AMOUNT_DIFFERS = "amount_differs", _("Tenders differ from what was due")

    class ReviewState(models.TextChoices):
        NONE = "", _("No review needed")
        PENDING = "pending", _("To review")
        RESOLVED = "resolved", _("Reviewed")

    class Status(models.TextChoices):
        COMPLETED = "completed", _("Completed")
        PARTLY_REFUNDED = "partly_refunded", _("Partly refunded")
        REFUNDED = "refunded", _("Refunded")

    # Unique by a constraint (sale_request_once), not unique=True: request ids are only looked up
    # whole, and unique=True would add a pattern-ops index that every sale pays for on PostgreSQL.
    request_id = models.CharField(
        _("request id"),
        max_length=64,
        help_text=_("Made by the till for each sale; a sale sent twice is recorded once."),
    )
    payload_hash = models.CharField(
        _("payload fingerprint"),
        max_length=64,
        help_text=_("A hash of the request: the same request id sent again with different contents is refused."),
    )
    # No index of their own: sale_store_idx and sale_member_idx start with them.
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="sales", db_index=False
    )
    cashier = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("cashier"), on_delete=models.PROTECT, related_name="+"
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sales",
        db_index=False,
    )

    class Source(models.TextChoices):
        TILL = "till", _("Till or API")
        IMPORT = "import", _("Imported purchase history")

    class Channel(models.TextChoices):
        STORE = "store", _("In store")
        ONLINE = "online", _("Online (mall, mini-program)")

    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.COMPLETED)
    source = models.CharField(
        _("source"),
        max_length=8,
        choices=Source.choices,
        default=Source.TILL,
        help_text=_("Imported sales come from the previous system; their request id is “import:” and the receipt no."),
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, default=Channel.STORE)
    subtotal = models.DecimalField(_("subtotal"), **MONEY)
    tier_discount = models.DecimalField(_("tier discount"), default=ZERO, **MONEY)
    coupon_discount = models.DecimalField(_("coupon discount"), default=ZERO, **MONEY)
    coupon_code = models.CharField(
        _("coupons"), max_length=255, blank=True, help_text=_("Their codes, comma-separated.")
    )
    points_redeemed = models.IntegerField(_("points redeemed"), default=0)
    points_value = models.DecimalField(_("paid with points"), default=ZERO, **MONEY)
    total_due = models.DecimalField(_("due after points"), **MONEY)
    paid_money = models.DecimalField(_("paid with money"), default=ZERO, **MONEY)
    paid_principal = models.DecimalField(_("paid from stored value (principal)"), default=ZERO, **MONEY)
    paid_bonus = models.DecimalField(_("paid from stored value (bonus)"), default=ZERO, **MONEY)
    points_earned = models.IntegerField(_("points earned"), default=0)
    points_eligible_amount = models.DecimalField(
        _("amount that earned points"),
        default=ZERO,
        help_text=_("Paid with money (and stored-value principal if the settings allow), without excluded lines."),
        **MONEY,
    )
    refunded_amount = models.DecimalField(_("refunded"), default=ZERO, **MONEY)
    unsettled_amount = models.DecimalField(
        _("not collected"),
        default=ZERO,
        db_default=ZERO,
        help_text=_(
            "An offline sale's difference: what the store did not collect (positive) or collected beyond what was due"
            " (negative)."
        ),
        **MONEY,
    )
    # Database defaults too: the history import and bench/generate insert sales with raw SQL.
    review_reasons = models.JSONField(_("review reasons"), default=list, db_default=[], blank=True)
    review_state = models.CharField(
        _("review"),
        max_length=8,
        choices=ReviewState.choices,
        default=ReviewState.NONE,
        db_default=ReviewState.NONE,
        blank=True,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reviewed by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    review_note = models.CharField(_("review note"), max_length=500, blank=True, default="", db_default="")
    client_time = models.DateTimeField(_("time on the till"), null=True, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("sale")
        verbose_name_plural = _("sales")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "-created_at"], name="sale_member_idx"),
            models.Index(fields=["store", "-created_at"], name="sale_store_idx"),
            models.Index(
                fields=["store", "-created_at"],
                condition=Q(review_state="pending"),
                name="sale_review_pending_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request_id"],
                name="sale_request_once",
                violation_error_code="duplicate",
                violation_error_message=_("A sale with this request id has been recorded already."),
            ),
            # A till never rings up a sale of ¥0; a previous system's history has them (free gifts).
            models.CheckConstraint(
                condition=Q(subtotal__gt=0) | (Q(source="import") & Q(subtotal=0)),
                name="sale_subtotal_positive_unless_imported",
                violation_error_code="min_value",
                violation_error_message=_("A sale's subtotal must be above zero."),
            ),
            models.CheckConstraint(
                condition=Q(total_due__gte=0),
                name="sale_total_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The amount due cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(points_redeemed__gte=0),
                name="sale_points_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("Points redeemed cannot be negative."),
            ),
            # Sums are rounded to the cent: SQLite keeps decimals as REAL, where 0.20 + 0.10 is not 0.30.
            models.CheckConstraint(
                condition=Q(refunded_amount__gte=0)
                & Q(refunded_amount__lte=Round(F("total_due") + F("points_value"), 2)),
                name="sale_refund_within_paid",
                violation_error_code="max_value",
                violation_error_message=_("More cannot be refunded than the sale was paid."),
            ),
            models.CheckConstraint(
                condition=Q(total_due=Round(F("paid_money") + F("paid_principal") + F("paid_bonus"), 2)),
                name="sale_tenders_add_up",
                violation_error_code="invalid",
                violation_error_message=_("The payments do not add up to the amount due."),
            ),
            models.CheckConstraint(
                condition=Q(
                    total_due=Round(
                        F("subtotal")
                        - F("tier_discount")
                        - F("coupon_discount")
                        - F("points_value")
                        - F("unsettled_amount"),
                        2,
                    )
                ),
                name="sale_due_adds_up",
                violation_error_code="invalid",
                violation_error_message=_("The amount due does not equal the subtotal less discounts and points."),
            ),
            models.CheckConstraint(
                condition=(Q(review_state="") & Q(review_reasons=[]))
                | (Q(review_state__in=["pending", "resolved"]) & ~Q(review_reasons=[])),
                name="sale_review_iff_reasons",
                violation_error_code="invalid",
                violation_error_message=_("A sale to review says why, and only such a sale does."),
            ),
            # A resolved review says who resolved it, when and what was done; nothing else carries those.
            models.CheckConstraint(
                condition=(
                    Q(review_state="resolved")
                    & Q(reviewed_by__isnull=False)
                    & Q(reviewed_at__isnull=False)
                    & ~Q(review_note="")
                )
                | (~Q(review_state="resolved") & Q(reviewed_by__isnull=True) & Q(reviewed_at__isnull=True)),
                name="sale_review_resolved_by_whom",
                violation_error_code="invalid",
                violation_error_message=_("A reviewed sale says who reviewed it, when and what was done."),
            ),
        ]

    def __str__(self) -> str:
        # No store lookup: admin lists and pickers print many sales at once.
        return f"#{self.pk} ¥{self.total_due}"

    @property
    def paid_total(self) -> Decimal:
        """Everything the customer paid for the goods: money, stored value and points at their value."""
        return self.total_due + self.points_value

    @property
    def review_reason_labels(self) -> list[str]:
        labels = dict(self.ReviewReason.choices)
        return [str(labels.get(reason, reason)) for reason in self.review_reasons]


class SaleLine(ConstraintErrorsMixin, models.Model):
    # No index of its own: sale_line_once starts with it.
    sale = models.ForeignKey(
        Sale, verbose_name=_("sale"), on_delete=models.CASCADE, related_name="lines", db_index=False
    )
    line_no = models.PositiveSmallIntegerField(_("line no."))
    category = models.CharField(_("category"), max_length=64)
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=3)
    unit_price = models.DecimalField(_("unit price"), **MONEY)
    amount = models.DecimalField(_("amount"), help_text=_("Quantity × unit price."), **MONEY)
    net_amount = models.DecimalField(_("net amount"), help_text=_("After tier and coupon discounts."), **MONEY)
    refunded_quantity = models.DecimalField(_("refunded quantity"), max_digits=10, decimal_places=3, default=0)

    class Meta:
        verbose_name = _("sale line")
        verbose_name_plural = _("sale lines")
        ordering = ["line_no"]
        constraints = [
            models.UniqueConstraint(
                fields=["sale", "line_no"],
                name="sale_line_once",
                violation_error_code="duplicate",
                violation_error_message=_("The sale has this line number already."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__gt=0),
                name="sale_line_quantity_positive",
                violation_error_code="min_value",
                violation_error_message=_("The quantity must be above zero."),
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0),
                name="sale_line_price_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The unit price cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__gte=0) & Q(refunded_quantity__lte=F("quantity")),
                name="sale_line_refund_within_quantity",
                violation_error_code="max_value",
                violation_error_message=_("More cannot be refunded than was sold."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sale_id}#{self.line_no} {self.category}"


class SaleTender(ConstraintErrorsMixin, models.Model):
    class Kind(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Bank card")
        MOBILE = "mobile", _("WeChat Pay / Alipay")
        STORED_VALUE = "stored_value", _("Stored value")

    # No index of its own: sale_tender_once starts with it.
    sale = models.ForeignKey(
        Sale, verbose_name=_("sale"), on_delete=models.CASCADE, related_name="tenders", db_index=False
    )
    kind = models.CharField(_("tender"), max_length=16, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)

    class Meta:
        verbose_name = _("tender")
        verbose_name_plural = _("tenders")
        constraints = [
            models.UniqueConstraint(
                fields=["sale", "kind"],
                name="sale_tender_once",
                violation_error_code="duplicate",
                violation_error_message=_("Each payment method appears once per sale."),
            ),
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="sale_tender_positive",
                violation_error_code="min_value",
                violation_error_message=_("A payment must be above zero."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ¥{self.amount}"


class Refund(ConstraintErrorsMixin, models.Model):
    request_id = models.CharField(
        _("request id"),
        max_length=64,
        unique=True,
        help_text=_("Made by the till for each refund; a refund sent twice is recorded once."),
    )
    payload_hash = models.CharField(
        _("payload fingerprint"),
        max_length=64,
        help_text=_("A hash of the request: the same request id sent again with different contents is refused."),
    )
    sale = models.ForeignKey(Sale, verbose_name=_("sale"), on_delete=models.PROTECT, related_name="refunds")
    amount = models.DecimalField(_("amount"), **MONEY)
    reason = models.CharField(_("reason"), max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("refunded by"), on_delete=models.PROTECT, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The store manager who approved a cashier's refund; empty when none was needed."),
    )
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    lines = models.JSONField(
        _("refunded lines"),
        default=list,
        blank=True,
        help_text=_("Line numbers and quantities given back; empty for a refund by amount."),
    )
    money_refunded = models.DecimalField(
        _("money refunded"), default=ZERO, help_text=_("Given back in cash, to the card or by mobile payment."), **MONEY
    )
    principal_restored = models.DecimalField(_("stored value restored (principal)"), default=ZERO, **MONEY)
    bonus_restored = models.DecimalField(_("stored value restored (bonus)"), default=ZERO, **MONEY)
    points_restored = models.IntegerField(
        _("points restored"), default=0, help_text=_("Points the sale was paid with, given back to the member.")
    )
    points_clawed_back = models.IntegerField(
        _("points clawed back"), default=0, help_text=_("Points the sale had earned, taken back.")
    )
    debt_created = models.IntegerField(
        _("points debt created"),
        default=0,
        help_text=_("Clawed-back points the member had already spent; future earnings settle them first."),
    )
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("refund")
        verbose_name_plural = _("refunds")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0),
                name="refund_amount_positive",
                violation_error_code="min_value",
                violation_error_message=_("A refund must be above zero."),
            )
        ]

    def __str__(self) -> str:
        return f"refund {self.request_id} ¥{self.amount}"


class SignIn(ConstraintErrorsMixin, models.Model):
    """One daily sign-in; its `streak` is the length of the run of consecutive days it ends."""

    # No index of its own: signin_once_a_day starts with it.
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    day = models.DateField(_("day"))
    streak = models.PositiveIntegerField(
        _("streak (days)"), help_text=_("Consecutive days signed in, this day included.")
    )
    points = models.PositiveIntegerField(_("points"), default=0)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("sign-in")
        verbose_name_plural = _("sign-ins")
        constraints = [
            models.UniqueConstraint(
                fields=["member", "day"],
                name="signin_once_a_day",
                violation_error_code="duplicate",
                violation_error_message=_("The member has signed in today already."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.day} ({self.streak})"


class ReferralReward(ConstraintErrorsMixin, models.Model):
    """A referral paid out: once per referred member, on their first qualifying purchase."""

    referred = models.OneToOneField(
        Member, verbose_name=_("new member"), on_delete=models.PROTECT, related_name="referral_reward"
    )
    referrer = models.ForeignKey(Member, verbose_name=_("referrer"), on_delete=models.PROTECT, related_name="+")
    sale = models.ForeignKey(
        Sale,
        verbose_name=_("first qualifying purchase"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    referrer_points = models.PositiveIntegerField(_("points for the referrer"), default=0)
    referred_points = models.PositiveIntegerField(_("points for the new member"), default=0)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("referral reward")
        verbose_name_plural = _("referral rewards")

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id}"
