"""Services, card products, members' cards and the card ledger.

Invariants the database keeps (CHECK / UNIQUE) and `reconcile_ledger` proves:
  MemberCard.uses_remaining == SUM(CardEntry.uses) for count and lesson-hours cards
      (= purchased + bonus − used + reversed − no-shows − refunded ± adjustments)
  MemberCard.uses_taken == −SUM(CardEntry.uses of use / reverse / no-show entries) for every card
"""

from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length, Round
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.constraints import ConstraintErrorsMixin
from loyalty.models import MONEY, ZERO, Sale, SaleLine
from members.fields import EncryptedTextField
from members.models import Member
from stores.models import Store

USES = {"max_digits": 7, "decimal_places": 2}


class Service(ConstraintErrorsMixin, models.Model):
    """What staff perform: 洗护, 面部护理, 私教课, 钢琴课."""

    code = models.CharField(
        _("code"), max_length=32, unique=True, error_messages={"unique": _("Another service has this code.")}
    )
    name = models.CharField(_("name"), max_length=64)
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration (minutes)"), default=60, validators=[MinValueValidator(5), MaxValueValidator(720)]
    )
    price = models.DecimalField(_("price"), default=ZERO, validators=[MinValueValidator(0)], **MONEY)
    next_visit_days = models.PositiveSmallIntegerField(
        _("remind of the next visit after (days)"),
        null=True,
        blank=True,
        help_text=_("“Time for your next treatment” this many days after the service; empty for no reminder."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(code=""),
                name="service_code_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the service a code."),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="service_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the service a name."),
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5) & Q(duration_minutes__lte=720),
                name="service_duration_range",
                violation_error_code="out_of_range",
                violation_error_message=_("A service lasts from 5 minutes to 12 hours."),
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="service_price_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("A price cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(next_visit_days__isnull=True) | Q(next_visit_days__gte=1),
                name="service_next_visit_positive",
                violation_error_code="min_value",
                violation_error_message=_("The next-visit reminder comes at least 1 day after the service."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CardProduct(ConstraintErrorsMixin, models.Model):
    """A card HQ sells: its kind, uses, price, validity, where it is usable. A member's card copies the
    terms that decide what they bought (uses, caps, validity), so changing the product later changes
    nothing already sold."""

    class Kind(models.TextChoices):
        COUNT = "count", _("Count card (次卡)")
        HOURS = "hours", _("Lesson-hours card (课时卡)")
        PERIOD = "period", _("Period card (月卡/年卡)")

    class ValidFrom(models.TextChoices):
        PURCHASE = "purchase", _("From purchase")
        FIRST_USE = "first_use", _("From first use")

    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        help_text=_("Also the SKU of the card on its sale line."),
        error_messages={"unique": _("Another card product has this code.")},
    )
    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.COUNT)
    services = models.ManyToManyField(Service, verbose_name=_("services"), related_name="card_products")
    uses = models.DecimalField(
        _("uses"),
        default=ZERO,
        help_text=_("Uses (次) or lesson hours (课时) bought; none for a period card."),
        **USES,
    )
    bonus_uses = models.DecimalField(_("bonus uses"), default=ZERO, help_text=_("买10送2: 2."), **USES)
    cap_per_day = models.PositiveSmallIntegerField(_("at most per day"), null=True, blank=True)
    cap_per_week = models.PositiveSmallIntegerField(_("at most per week"), null=True, blank=True)
    price = models.DecimalField(_("price"), validators=[MinValueValidator(0)], **MONEY)
    validity_months = models.PositiveSmallIntegerField(
        _("valid for (months)"), default=12, help_text=_("0: never expires.")
    )
    valid_from = models.CharField(
        _("validity starts"), max_length=10, choices=ValidFrom.choices, default=ValidFrom.PURCHASE
    )
    stores = models.ManyToManyField(
        Store,
        verbose_name=_("usable at"),
        related_name="+",
        blank=True,
        help_text=_("Leave empty for every store."),
    )
    transferable = models.BooleanField(_("transferable"), default=False)
    is_active = models.BooleanField(_("on sale"), default=True)

    constraint_error_fields = {
        "card_product_uses_by_kind": "uses",
        "card_product_count_whole": "uses",
        "card_product_caps_on_period_cards": "cap_per_day",
        "card_product_caps_positive": "cap_per_day",
        "card_product_period_expires": "validity_months",
    }

    class Meta:
        verbose_name = _("card product")
        verbose_name_plural = _("card products")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(code=""),
                name="card_product_code_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the card product a code."),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="card_product_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the card product a name."),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["count", "hours", "period"]),
                name="card_product_kind_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown kind of card."),
            ),
            models.CheckConstraint(
                condition=(Q(kind="period") & Q(uses=0) & Q(bonus_uses=0))
                | (~Q(kind="period") & Q(uses__gt=0) & Q(bonus_uses__gte=0)),
                name="card_product_uses_by_kind",
                violation_error_code="invalid",
                violation_error_message=_(
                    "A count or lesson-hours card has uses above zero (and bonus uses not below zero); "
                    "a period card has none."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(kind="count") | (Q(uses=Round("uses")) & Q(bonus_uses=Round("bonus_uses"))),
                name="card_product_count_whole",
                violation_error_code="invalid",
                violation_error_message=_("A count card has whole uses."),
            ),
            models.CheckConstraint(
                condition=Q(kind="period") | (Q(cap_per_day__isnull=True) & Q(cap_per_week__isnull=True)),
                name="card_product_caps_on_period_cards",
                violation_error_code="invalid",
                violation_error_message=_("Only a period card has a cap per day or week."),
            ),
            models.CheckConstraint(
                condition=(Q(cap_per_day__isnull=True) | Q(cap_per_day__gte=1))
                & (Q(cap_per_week__isnull=True) | Q(cap_per_week__gte=1)),
                name="card_product_caps_positive",
                violation_error_code="min_value",
                violation_error_message=_("A cap is at least 1 use."),
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="card_product_price_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("A price cannot be negative."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="period") | Q(validity_months__gte=1),
                name="card_product_period_expires",
                violation_error_code="min_value",
                violation_error_message=_("A period card is valid for at least 1 month."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def total_uses(self) -> Decimal:
        return self.uses + self.bonus_uses


class CardSettings(ConstraintErrorsMixin, models.Model):
    """The chain's rules for cards and appointments (one row)."""

    class Confirmation(models.TextChoices):
        NONE = "none", _("Not asked")
        CODE = "code", _("A code sent to the member")
        SIGNATURE = "signature", _("The member's signature on the tablet")
        EITHER = "either", _("A code or a signature")

    singleton = models.BooleanField(default=True, editable=False)
    use_confirmation = models.CharField(
        _("member confirms each use by"), max_length=10, choices=Confirmation.choices, default=Confirmation.NONE
    )
    refunds_allowed = models.BooleanField(_("cards can be refunded"), default=True)
    refund_fee_percent = models.DecimalField(
        _("refund fee (percent of what is refunded)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("10.00"),
        help_text=_("A refund pays back the paid price pro rata of the remaining uses, less this fee."),
    )
    freeze_max_times = models.PositiveSmallIntegerField(_("freezes per card"), default=2)
    freeze_max_days = models.PositiveSmallIntegerField(_("frozen days per card in total"), default=90)
    no_show_uses = models.DecimalField(
        _("a no-show costs (uses)"),
        default=ZERO,
        help_text=_("Taken from the booked card when a member does not come; 0 for nothing."),
        **USES,
    )
    free_cancel_hours = models.PositiveSmallIntegerField(
        _("free cancellation until (hours before)"),
        default=2,
        help_text=_("A member who cancels later than this counts as a no-show."),
    )
    expiry_warning_days = models.PositiveSmallIntegerField(_("warn of a card's expiry (days before)"), default=14)
    low_uses_warning = models.DecimalField(_("warn when uses left are at most"), default=Decimal("3"), **USES)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("card settings")
        verbose_name_plural = _("card settings")
        constraints = [
            models.UniqueConstraint(
                fields=["singleton"],
                name="card_settings_single_row",
                violation_error_code="unique",
                violation_error_message=_("There is one set of card settings."),
            ),
            models.CheckConstraint(
                condition=Q(refund_fee_percent__gte=0) & Q(refund_fee_percent__lte=100),
                name="card_settings_fee_percent",
                violation_error_code="out_of_range",
                violation_error_message=_("The fee is from 0 to 100 percent."),
            ),
            models.CheckConstraint(
                condition=Q(no_show_uses__gte=0),
                name="card_settings_no_show_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("A no-show cannot cost fewer than 0 uses."),
            ),
            models.CheckConstraint(
                condition=Q(low_uses_warning__gte=0),
                name="card_settings_low_uses_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("Uses left cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return str(_("Card settings"))

    @classmethod
    def current(cls) -> "CardSettings":
        found = cls.objects.filter(singleton=True).first()
        if found is None:
            found, _created = cls.objects.get_or_create(singleton=True)
        return found


class ServiceStaff(ConstraintErrorsMixin, models.Model):
    """A member of staff who performs services (a therapist, a coach, a teacher): what they can do."""

    class Job(models.TextChoices):
        THERAPIST = "therapist", _("Therapist")
        STYLIST = "stylist", _("Stylist")
        COACH = "coach", _("Coach")
        TEACHER = "teacher", _("Teacher")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="service_staff"
    )
    job = models.CharField(_("job"), max_length=16, choices=Job.choices, default=Job.THERAPIST)
    services = models.ManyToManyField(Service, verbose_name=_("performs"), related_name="staff", blank=True)
    is_bookable = models.BooleanField(_("takes bookings"), default=True)

    class Meta:
        verbose_name = _("service staff")
        verbose_name_plural = _("service staff")
        constraints = [
            models.CheckConstraint(
                condition=Q(job__in=["therapist", "stylist", "coach", "teacher"]),
                name="service_staff_job_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown job."),
            ),
        ]

    def __str__(self) -> str:
        from stores.names import staff_name

        return staff_name(self.user)


class CommissionRule(ConstraintErrorsMixin, models.Model):
    """提成: what a member of staff earns for performing a service, by their job (and the service)."""

    job = models.CharField(_("job"), max_length=16, choices=ServiceStaff.Job.choices)
    service = models.ForeignKey(
        Service,
        verbose_name=_("service"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Leave empty for every service (a rule for the service itself comes first)."),
    )
    amount = models.DecimalField(_("per service (¥)"), default=ZERO, validators=[MinValueValidator(0)], **MONEY)
    percent = models.DecimalField(_("or percent of the service's price"), max_digits=5, decimal_places=2, default=ZERO)

    constraint_error_fields = {"commission_rule_once": "service", "commission_rule_range": "percent"}

    class Meta:
        verbose_name = _("commission rule")
        verbose_name_plural = _("commission rules")
        constraints = [
            models.UniqueConstraint(
                fields=["job", "service"],
                name="commission_rule_once",
                violation_error_code="unique",
                violation_error_message=_("This job already has a rule for this service."),
            ),
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(service__isnull=True),
                name="commission_rule_default_once",
                violation_error_code="unique",
                violation_error_message=_("This job already has a rule for every service."),
            ),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(percent__gte=0) & Q(percent__lte=100),
                name="commission_rule_range",
                violation_error_code="out_of_range",
                violation_error_message=_("An amount is not negative; a percentage is from 0 to 100."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_job_display()} · {self.service or _('every service')}"


class MemberCard(ConstraintErrorsMixin, models.Model):
    """A member's card. `uses_remaining` is the cached balance of its ledger (None for a period card,
    whose uses are unlimited within caps); it changes only by a conditional UPDATE in
    servicecards.services.cards, beside the CardEntry that records why."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")
        REFUNDED = "refunded", _("Refunded")

    code = models.CharField(_("card no."), max_length=16, unique=True)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="service_cards")
    product = models.ForeignKey(CardProduct, verbose_name=_("product"), on_delete=models.PROTECT, related_name="cards")
    kind = models.CharField(_("kind"), max_length=8, choices=CardProduct.Kind.choices)
    store = models.ForeignKey(Store, verbose_name=_("sold at"), on_delete=models.PROTECT, related_name="+")
    sale = models.ForeignKey(
        Sale, verbose_name=_("sale"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    sale_line = models.OneToOneField(
        SaleLine, verbose_name=_("sale line"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    price_paid = models.DecimalField(_("paid"), help_text=_("What the sale line came to after discounts."), **MONEY)
    uses_purchased = models.DecimalField(_("uses bought"), **USES)
    uses_bonus = models.DecimalField(_("bonus uses"), default=ZERO, **USES)
    uses_remaining = models.DecimalField(_("uses left"), null=True, blank=True, **USES)
    uses_taken = models.DecimalField(_("uses taken"), default=ZERO, **USES)
    cap_per_day = models.PositiveSmallIntegerField(_("at most per day"), null=True, blank=True)
    cap_per_week = models.PositiveSmallIntegerField(_("at most per week"), null=True, blank=True)
    validity_months = models.PositiveSmallIntegerField(_("valid for (months)"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    purchased_at = models.DateTimeField(_("bought"))
    activated_at = models.DateTimeField(_("validity started"), null=True, blank=True)
    expires_at = models.DateTimeField(
        _("expires"), null=True, blank=True, help_text=_("Empty: never, or not until the first use.")
    )
    frozen_at = models.DateTimeField(_("frozen since"), null=True, blank=True)
    freeze_reason = models.CharField(_("freeze reason"), max_length=255, blank=True)
    freezes = models.PositiveSmallIntegerField(_("times frozen"), default=0)
    frozen_days = models.PositiveSmallIntegerField(_("days frozen"), default=0)
    refunded_at = models.DateTimeField(_("refunded"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    constraint_error_fields = {"member_card_remaining_in_range": "uses_remaining"}

    class Meta:
        verbose_name = _("member's card")
        verbose_name_plural = _("members' cards")
        ordering = ["-purchased_at", "-id"]
        indexes = [
            models.Index(fields=["member", "status"], name="member_card_member_idx"),
            models.Index(fields=["expires_at"], name="member_card_expiry_idx", condition=Q(status="active")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(kind="period") & Q(uses_remaining__isnull=True))
                | (~Q(kind="period") & Q(uses_remaining__isnull=False)),
                name="member_card_remaining_by_kind",
                violation_error_code="invalid",
                violation_error_message=_("A period card has no count of uses left; other cards have one."),
            ),
            models.CheckConstraint(
                condition=Q(uses_remaining__isnull=True)
                | (Q(uses_remaining__gte=0) & Q(uses_remaining__lte=F("uses_purchased") + F("uses_bonus"))),
                name="member_card_remaining_in_range",
                violation_error_code="out_of_range",
                violation_error_message=_("Uses left are between none and what was bought with its bonus."),
            ),
            models.CheckConstraint(
                condition=Q(uses_taken__gte=0),
                name="member_card_taken_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("Uses taken cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(price_paid__gte=0) & Q(uses_purchased__gte=0) & Q(uses_bonus__gte=0),
                name="member_card_amounts_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("A price or a number of uses cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "frozen", "refunded"]),
                name="member_card_status_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown card status."),
            ),
            models.CheckConstraint(
                condition=(Q(status="frozen") & Q(frozen_at__isnull=False))
                | (~Q(status="frozen") & Q(frozen_at__isnull=True)),
                name="member_card_frozen_iff_since",
                violation_error_code="invalid",
                violation_error_message=_("A frozen card says since when; another card does not."),
            ),
            models.CheckConstraint(
                condition=Q(kind="period") | (Q(cap_per_day__isnull=True) & Q(cap_per_week__isnull=True)),
                name="member_card_caps_on_period_cards",
                violation_error_code="invalid",
                violation_error_message=_("Only a period card has a cap per day or week."),
            ),
            models.CheckConstraint(
                condition=(Q(status="refunded") & Q(refunded_at__isnull=False))
                | (~Q(status="refunded") & Q(refunded_at__isnull=True)),
                name="member_card_refunded_iff_when",
                violation_error_code="invalid",
                violation_error_message=_("A refunded card says when; another card does not."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product} {self.code}"

    @property
    def uses_total(self) -> Decimal:
        return self.uses_purchased + self.uses_bonus

    @property
    def valid_until(self) -> date | None:
        """The last local day the card can be used: `expires_at` is the midnight that ends it."""
        if self.expires_at is None:
            return None
        return timezone.localtime(self.expires_at - timedelta(microseconds=1)).date()


class CardEntry(ConstraintErrorsMixin, models.Model):
    """One movement of a card's uses. Append-only: a use is undone by a reversal entry, never edited.
    A use with its service, staff and note is also the member's service record (服务记录)."""

    class Kind(models.TextChoices):
        PURCHASE = "purchase", _("Bought")
        BONUS = "bonus", _("Bonus")
        USE = "use", _("Used")
        REVERSAL = "reversal", _("Use reversed")
        NO_SHOW = "no_show", _("No-show")
        REFUND = "refund", _("Refunded")
        ADJUST = "adjust", _("Adjusted")

    class Confirmation(models.TextChoices):
        NONE = "", _("Not confirmed")
        CODE = "code", _("Code")
        SIGNATURE = "signature", _("Signature")

    card = models.ForeignKey(MemberCard, verbose_name=_("card"), on_delete=models.PROTECT, related_name="entries")
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    uses = models.DecimalField(_("uses"), **USES)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    payload_hash = models.CharField(_("payload fingerprint"), max_length=64, blank=True)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    performed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("performed by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    reverses = models.OneToOneField(
        "self", verbose_name=_("reverses"), on_delete=models.PROTECT, related_name="reversed_by", null=True, blank=True
    )
    confirmation = models.CharField(
        _("member confirmed by"), max_length=10, choices=Confirmation.choices, blank=True, default=""
    )
    # A remark on the member (a skin condition, a coach's note) is personal data: sealed like the member's own.
    note = EncryptedTextField(_("service note"), purpose="card_entry.note", blank=True, default="")
    signature = EncryptedTextField(
        _("member's signature"),
        purpose="card_entry.signature",
        blank=True,
        default="",
        help_text=_("The member's signature drawn on the tablet (a PNG data URL)."),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("card entry")
        verbose_name_plural = _("card entries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "-created_at"], name="card_entry_member_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["request_id"],
                condition=~Q(request_id=""),
                name="card_entry_request_once",
                violation_error_code="unique",
                violation_error_message=_("This request id was already used."),
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["purchase", "bonus", "use", "reversal", "no_show", "refund", "adjust"]),
                name="card_entry_kind_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown kind of card entry."),
            ),
            models.CheckConstraint(
                condition=(Q(kind__in=["purchase", "bonus", "reversal"]) & Q(uses__gte=0))
                | (Q(kind__in=["use", "no_show", "refund"]) & Q(uses__lte=0))
                | Q(kind="adjust"),
                name="card_entry_sign_by_kind",
                violation_error_code="invalid",
                violation_error_message=_(
                    "A purchase, bonus or reversal adds uses; a use, no-show or refund takes them."
                ),
            ),
            models.CheckConstraint(
                condition=(Q(kind="reversal") & Q(reverses__isnull=False))
                | (~Q(kind="reversal") & Q(reverses__isnull=True)),
                name="card_entry_reversal_names_its_use",
                violation_error_code="invalid",
                violation_error_message=_("A reversal names the use it reverses; nothing else does."),
            ),
            # A use is the member's service record: what was done is never missing from it.
            models.CheckConstraint(
                condition=~Q(kind="use") | Q(service__isnull=False),
                name="card_entry_use_names_its_service",
                violation_error_code="required",
                violation_error_message=_("A use says which service was performed."),
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("reason"), 255),
                name="card_entry_reason_length",
                violation_error_code="max_length",
                violation_error_message=_("A reason has at most 255 characters."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.uses}"


class Room(ConstraintErrorsMixin, models.Model):
    """A treatment room, a studio, a classroom: booked like a member of staff, never twice at once."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=64)
    is_active = models.BooleanField(_("in use"), default=True)

    constraint_error_fields = {"room_name_once_per_store": "name"}

    class Meta:
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        ordering = ["store", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["store", "name"],
                name="room_name_once_per_store",
                violation_error_code="unique",
                violation_error_message=_("This store already has a room of this name."),
            ),
            models.CheckConstraint(
                condition=~Q(name=""),
                name="room_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the room a name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WorkingHours(ConstraintErrorsMixin, models.Model):
    """When a member of service staff works at a store, by weekday (0 Monday … 6 Sunday), China time."""

    staff = models.ForeignKey(ServiceStaff, verbose_name=_("staff"), on_delete=models.CASCADE, related_name="hours")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField(
        _("weekday"),
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
    starts = models.TimeField(_("from"))
    ends = models.TimeField(_("until"))

    constraint_error_fields = {"working_hours_ordered": "ends", "working_hours_once": "starts"}

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = _("working hours")
        ordering = ["staff", "weekday", "starts"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weekday__gte=0) & Q(weekday__lte=6),
                name="working_hours_weekday",
                violation_error_code="out_of_range",
                violation_error_message=_("A weekday is from Monday to Sunday."),
            ),
            models.CheckConstraint(
                condition=Q(ends__gt=F("starts")),
                name="working_hours_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("Working hours end after they start."),
            ),
            models.UniqueConstraint(
                fields=["staff", "weekday", "starts"],
                name="working_hours_once",
                violation_error_code="unique",
                violation_error_message=_("These hours are already set."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.starts:%H:%M}–{self.ends:%H:%M}"


class Appointment(ConstraintErrorsMixin, models.Model):
    """A member's booking of a service with a member of staff (and a room) for a time slot. While booked,
    no other booking of the same staff member or room overlaps it: the database refuses it (an exclusion
    constraint on PostgreSQL, triggers on SQLite; migration 0002)."""

    class Status(models.TextChoices):
        BOOKED = "booked", _("Booked")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")
        NO_SHOW = "no_show", _("No-show")

    request_id = models.CharField(_("request id"), max_length=64)
    payload_hash = models.CharField(_("payload fingerprint"), max_length=64, blank=True)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="appointments")
    service = models.ForeignKey(Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(
        ServiceStaff, verbose_name=_("staff"), on_delete=models.PROTECT, related_name="appointments"
    )
    room = models.ForeignKey(
        Room, verbose_name=_("room"), on_delete=models.PROTECT, related_name="appointments", null=True, blank=True
    )
    card = models.ForeignKey(
        MemberCard,
        verbose_name=_("card"),
        on_delete=models.PROTECT,
        related_name="appointments",
        null=True,
        blank=True,
        help_text=_("The card the service will be taken from, if any."),
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.BOOKED)
    channel = models.CharField(_("booked through"), max_length=16, default="tablet")
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("booked by"), on_delete=models.PROTECT, related_name="+"
    )
    use_entry = models.OneToOneField(
        CardEntry,
        verbose_name=_("card use"),
        on_delete=models.PROTECT,
        related_name="appointment",
        null=True,
        blank=True,
    )
    note = models.CharField(_("note"), max_length=255, blank=True)
    reminded_at = models.DateTimeField(_("reminded"), null=True, blank=True)
    closed_at = models.DateTimeField(_("done, cancelled or missed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)

    constraint_error_fields = {"appointment_ends_after_start": "ends_at"}

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["starts_at", "id"]
        indexes = [
            models.Index(fields=["store", "starts_at"], name="appointment_store_day_idx"),
            models.Index(fields=["member", "starts_at"], name="appointment_member_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["request_id"],
                name="appointment_request_once",
                violation_error_code="unique",
                violation_error_message=_("This request id was already used."),
            ),
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="appointment_ends_after_start",
                violation_error_code="invalid_range",
                violation_error_message=_("An appointment ends after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["booked", "done", "cancelled", "no_show"]),
                name="appointment_status_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown appointment status."),
            ),
            models.CheckConstraint(
                condition=(Q(status="booked") & Q(closed_at__isnull=True))
                | (~Q(status="booked") & Q(closed_at__isnull=False)),
                name="appointment_closed_iff_not_booked",
                violation_error_code="invalid",
                violation_error_message=_("A booked appointment is open; any other says when it closed."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} {self.service}"
