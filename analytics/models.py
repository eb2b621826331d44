"""Scores analytics writes: one MemberScore row per member with a purchase, a monthly SegmentSnapshot,
one ScoringRun per run (with the BG/NBD fit), and the churn rules' settings (a singleton)."""

from decimal import Decimal

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from campaigns.churn import ChurnReason
from campaigns.segments import ChurnRisk, RfmSegment
from config.constraints import ConstraintErrorsMixin
from members.models import Member


class ScoreSettings(ConstraintErrorsMixin, models.Model):
    """The dormant rules of the churn warning; one row (pk 1), edited in the admin."""

    dormant_days = models.PositiveIntegerField(_("no purchase for this many days: high risk"), default=90)
    gap_multiplier = models.DecimalField(
        _("gap longer than this many times the member's usual interval: medium risk"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("3"),
    )
    spend_window_days = models.PositiveIntegerField(_("recent spend window (days)"), default=90)
    spend_drop_share = models.DecimalField(
        _("recent spend below this share of their average: medium risk"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
    )
    p_alive_high = models.DecimalField(
        _("P(alive) below this: high risk"), max_digits=4, decimal_places=2, default=Decimal("0.30")
    )
    p_alive_medium = models.DecimalField(
        _("P(alive) below this: medium risk"), max_digits=4, decimal_places=2, default=Decimal("0.60")
    )
    price_sensitive_share = models.DecimalField(
        _("price sensitive: share of sales with a coupon, points or a discount"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("0.50"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    constraint_error_fields = {"score_settings_p_alive_order": "p_alive_high"}

    class Meta:
        verbose_name = _("scoring settings")
        verbose_name_plural = _("scoring settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(pk=1),
                name="score_settings_singleton",
                violation_error_code="singleton",
                violation_error_message=_("There is one set of scoring settings."),
            ),
            models.CheckConstraint(
                condition=Q(dormant_days__gte=1),
                name="score_settings_dormant_days_positive",
                violation_error_code="min_value",
                violation_error_message=_("The number of days is at least 1."),
            ),
            models.CheckConstraint(
                condition=Q(spend_window_days__gte=1),
                name="score_settings_spend_window_positive",
                violation_error_code="min_value",
                violation_error_message=_("The recent spend window is at least 1 day."),
            ),
            models.CheckConstraint(
                condition=Q(gap_multiplier__gt=0),
                name="score_settings_gap_positive",
                violation_error_code="min_value",
                violation_error_message=_("The multiplier must be above 0."),
            ),
            models.CheckConstraint(
                condition=Q(spend_drop_share__gte=0, spend_drop_share__lte=1),
                name="score_settings_drop_share",
                violation_error_code="out_of_range",
                violation_error_message=_("The share is from 0 to 1: 0.50 is half."),
            ),
            models.CheckConstraint(
                condition=Q(p_alive_high__gte=0, p_alive_high__lte=1),
                name="score_settings_p_alive_high_range",
                violation_error_code="out_of_range",
                violation_error_message=_("A probability is from 0 to 1."),
            ),
            models.CheckConstraint(
                condition=Q(p_alive_medium__gte=0, p_alive_medium__lte=1),
                name="score_settings_p_alive_medium_range",
                violation_error_code="out_of_range",
                violation_error_message=_("A probability is from 0 to 1."),
            ),
            models.CheckConstraint(
                condition=Q(p_alive_high__lte=models.F("p_alive_medium")),
                name="score_settings_p_alive_order",
                violation_error_code="invalid_range",
                violation_error_message=_("The high-risk threshold cannot be above the medium-risk one."),
            ),
            models.CheckConstraint(
                condition=Q(price_sensitive_share__gte=0, price_sensitive_share__lte=1),
                name="score_settings_price_share",
                violation_error_code="out_of_range",
                violation_error_message=_("The share is from 0 to 1: 0.50 is half."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("scoring settings"))

    @classmethod
    def load(cls) -> "ScoreSettings":
        return cls.objects.get_or_create(pk=1)[0]


class ScoringRun(ConstraintErrorsMixin, models.Model):
    as_of = models.DateField(_("as of"))
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    members_scored = models.PositiveIntegerField(_("members scored"), default=0)
    at_risk = models.PositiveIntegerField(_("at risk"), default=0)
    fitted = models.BooleanField(_("BG/NBD fitted"), default=False)
    fit_r = models.FloatField("r", null=True, blank=True)
    fit_alpha = models.FloatField("α", null=True, blank=True)
    fit_a = models.FloatField("a", null=True, blank=True)
    fit_b = models.FloatField("b", null=True, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("scoring run")
        verbose_name_plural = _("scoring runs")
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(at_risk__lte=models.F("members_scored")),
                name="scoring_run_at_risk_scored",
                violation_error_code="invalid",
                violation_error_message=_("A run cannot find more members at risk than it scored."),
            ),
            models.CheckConstraint(
                condition=Q(fitted=False)
                | Q(
                    fit_r__isnull=False,
                    fit_alpha__isnull=False,
                    fit_a__isnull=False,
                    fit_b__isnull=False,
                    fit_r__gt=0,
                    fit_alpha__gt=0,
                    fit_a__gt=0,
                    fit_b__gt=0,
                ),
                name="scoring_run_fit_when_fitted",
                violation_error_code="invalid",
                violation_error_message=_("A fitted run has its four positive parameters."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.as_of}"


class MemberScore(ConstraintErrorsMixin, models.Model):
    member = models.OneToOneField(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    as_of = models.DateField(_("as of"))
    recency_days = models.PositiveIntegerField(_("days since last purchase"))
    frequency = models.PositiveIntegerField(_("purchases"))
    monetary = models.DecimalField(_("net spend"), max_digits=14, decimal_places=2)
    r_score = models.PositiveSmallIntegerField("R")
    f_score = models.PositiveSmallIntegerField("F")
    m_score = models.PositiveSmallIntegerField("M")
    segment = models.CharField(_("segment"), max_length=20, choices=RfmSegment.choices, db_index=True)
    p_alive = models.FloatField(_("P(alive)"), null=True, blank=True)
    expected_purchases_90d = models.FloatField(_("expected purchases in 90 days"), null=True, blank=True)
    churn_level = models.CharField(_("churn risk"), max_length=8, choices=ChurnRisk.choices, db_index=True)
    churn_reason = models.CharField(_("churn reason"), max_length=16, choices=ChurnReason.choices, blank=True)

    class Meta:
        verbose_name = _("member score")
        verbose_name_plural = _("churn report")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    r_score__gte=1, r_score__lte=5, f_score__gte=1, f_score__lte=5, m_score__gte=1, m_score__lte=5
                ),
                name="member_score_quintiles",
                violation_error_code="out_of_range",
                violation_error_message=_("R, F and M scores are from 1 to 5."),
            ),
            models.CheckConstraint(
                condition=Q(monetary__gte=0),
                name="member_score_monetary_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("Net spend cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(p_alive__isnull=True) | Q(p_alive__gte=0, p_alive__lte=1),
                name="member_score_p_alive",
                violation_error_code="out_of_range",
                violation_error_message=_("A probability is from 0 to 1."),
            ),
            models.CheckConstraint(
                condition=Q(expected_purchases_90d__isnull=True) | Q(expected_purchases_90d__gte=0),
                name="member_score_expected_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("Expected purchases cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(churn_level="low", churn_reason="") | (~Q(churn_level="low") & ~Q(churn_reason="")),
                name="member_score_reason_when_at_risk",
                violation_error_code="invalid",
                violation_error_message=_("A member at risk has a churn reason, and only such a member."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id}: {self.segment}"


class SegmentSnapshot(ConstraintErrorsMixin, models.Model):
    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    segment = models.CharField(_("segment"), max_length=20, choices=RfmSegment.choices)
    members = models.PositiveIntegerField(_("members"))
    moved_in = models.PositiveIntegerField(_("came from another segment"), default=0)
    stayed = models.PositiveIntegerField(_("stayed"), default=0)
    new = models.PositiveIntegerField(_("not scored last month"), default=0)
    moved_from = models.JSONField(_("from last month's segments"), default=dict, blank=True)
    as_of = models.DateField(_("as of"))

    class Meta:
        verbose_name = _("segment snapshot")
        verbose_name_plural = _("segment snapshots")
        ordering = ["-month", "segment"]
        constraints = [
            models.UniqueConstraint(
                fields=["month", "segment"],
                name="segment_snapshot_once",
                violation_error_code="duplicate",
                violation_error_message=_("This month's snapshot of the segment exists already."),
            ),
            models.CheckConstraint(
                condition=Q(members=models.F("stayed") + models.F("moved_in") + models.F("new")),
                name="segment_snapshot_adds_up",
                violation_error_code="invalid",
                violation_error_message=_(
                    "Members who stayed, came from another segment and are new do not add up to the total."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.segment}: {self.members}"


class MemberSegmentMonth(ConstraintErrorsMixin, models.Model):
    """Each member's segment at the last run of a month: where movement between segments comes from."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    month = models.DateField(_("month"))
    segment = models.CharField(_("segment"), max_length=20, choices=RfmSegment.choices)

    class Meta:
        verbose_name = _("member segment by month")
        verbose_name_plural = _("member segments by month")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "member"],
                name="member_segment_month_once",
                violation_error_code="duplicate",
                violation_error_message=_("The member's segment of this month is recorded already."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {self.month:%Y-%m}: {self.segment}"
