"""Coupons, segments, campaigns with holdout groups, automations, the message outbox and the points mall.

Invariants the database keeps (CHECK / UNIQUE):
  a coupon's code is unique; a coupon is used by at most one sale, and a used coupon names its sale;
  a template never issues more than its total quantity (issued_count ≤ total_quantity);
  a member is in a campaign once, in its target group or its holdout group;
  an automation has one effect per member and occurrence; a message is queued once per key;
  a mall item's stock never goes below zero.

Points boosts (double points windows) are applied by checkout through a source campaigns registers.
The points mall is here rather than in loyalty (where DESIGN §3 first placed it): it sells coupons as
well as gifts, and loyalty may not import campaigns. It spends points through loyalty's ledger.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.constraints import ConstraintErrorsMixin
from loyalty.models import Sale, Tier
from members.fields import EncryptedCharField, EncryptedTextField
from members.models import Member
from stores.models import Store

ZERO = Decimal("0.00")
MONEY = {"max_digits": 12, "decimal_places": 2}


# --- coupons -------------------------------------------------------------------------------------


class CouponTemplate(ConstraintErrorsMixin, models.Model):
    """What a coupon gives and when it applies; coupons are issued from it."""

    class Kind(models.TextChoices):
        THRESHOLD_OFF = "threshold_off", _("Amount off above a threshold (满200减50)")
        PERCENT_OFF = "percent_off", _("Percent off, with a cap (9折, at most ¥30 off)")
        AMOUNT_OFF = "amount_off", _("Amount off, no threshold (立减10元)")
        GIFT = "gift", _("Gift or exchange (兑换券)")

    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    amount = models.DecimalField(_("amount off (¥)"), default=ZERO, help_text=_("For amount-off coupons."), **MONEY)
    threshold = models.DecimalField(
        _("minimum spend (¥)"),
        default=ZERO,
        help_text=_("What the sale's eligible lines must reach, after the tier discount (满200: 200)."),
        **MONEY,
    )
    percent_off = models.DecimalField(
        _("percent off"),
        max_digits=5,
        decimal_places=2,
        default=ZERO,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("10 means 10 percent off, i.e. 9折."),
    )
    max_discount = models.DecimalField(
        _("at most (¥)"), null=True, blank=True, help_text=_("The cap of a percent-off coupon."), **MONEY
    )
    gift_name = models.CharField(
        _("gift"), max_length=64, blank=True, help_text=_("What a gift coupon is exchanged for.")
    )
    gift_value = models.DecimalField(
        _("gift's value (¥)"),
        default=ZERO,
        help_text=_(
            "A gift coupon takes one unit of the gift's line (of its categories) off the sale, up to this much; "
            "what the gift is worth in a campaign's ROI."
        ),
        **MONEY,
    )
    tiers = models.ManyToManyField(
        Tier, verbose_name=_("tiers"), blank=True, related_name="+", help_text=_("Empty: every tier.")
    )
    stores = models.ManyToManyField(
        Store, verbose_name=_("stores"), blank=True, related_name="+", help_text=_("Empty: every store.")
    )
    channels = models.JSONField(
        _("channels"),
        default=list,
        blank=True,
        help_text=_("Where it can be used (a sale's channel: store, online). Empty: both."),
    )
    categories = models.JSONField(
        _("categories"),
        default=list,
        blank=True,
        help_text=_("Only lines of these categories count and are discounted. Empty: every line."),
    )
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    valid_days = models.PositiveIntegerField(
        _("valid for (days after issue)"),
        null=True,
        blank=True,
        help_text=_("Instead of fixed dates: each coupon is valid until the end of the Nth local day after issue."),
    )
    total_quantity = models.PositiveIntegerField(
        _("total quantity"), null=True, blank=True, help_text=_("Empty: no limit.")
    )
    issued_count = models.PositiveIntegerField(_("issued"), default=0, editable=False)
    per_member_limit = models.PositiveIntegerField(
        _("at most per member"), null=True, blank=True, help_text=_("Coupons of this template one member may hold.")
    )
    stackable = models.BooleanField(
        _("stacks with other coupons"), default=False, help_text=_("Off: the only coupon of its sale.")
    )
    on_registration = models.BooleanField(
        _("gift on registration"), default=False, help_text=_("Every newly registered member gets one.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    constraint_error_fields = {
        "coupon_template_not_over_issued": "total_quantity",
        "coupon_template_dates_ordered": "valid_until",
        "coupon_template_has_validity": "valid_days",
        "coupon_threshold_above_amount": "threshold",
        "coupon_amount_off_positive": "amount",
        "coupon_percent_off_positive": "percent_off",
        "coupon_gift_has_value": "gift_value",
    }

    class Meta:
        verbose_name = _("coupon template")
        verbose_name_plural = _("coupon templates")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="coupon_amount_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The amount off cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0),
                name="coupon_threshold_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The minimum spend cannot be negative."),
            ),
            models.CheckConstraint(
                condition=Q(percent_off__gte=0) & Q(percent_off__lte=100),
                name="coupon_percent_in_range",
                violation_error_code="out_of_range",
                violation_error_message=_("The percent off is from 0 to 100."),
            ),
            models.CheckConstraint(
                condition=Q(total_quantity__isnull=True) | Q(issued_count__lte=F("total_quantity")),
                name="coupon_template_not_over_issued",
                violation_error_code="below_issued",
                violation_error_message=_("The total cannot be below the coupons issued already."),
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True) | Q(valid_until__isnull=True) | Q(valid_from__lt=F("valid_until")),
                name="coupon_template_dates_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("The end is not after the start."),
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=False) | Q(valid_days__isnull=False),
                name="coupon_template_has_validity",
                violation_error_code="required",
                violation_error_message=_("Say how long the coupons are valid: a number of days or an end."),
            ),
            # What each kind needs to give anything (campaigns.services.redemption reads them so).
            models.CheckConstraint(
                condition=~Q(kind="threshold_off") | (Q(amount__gt=0) & Q(threshold__gt=F("amount"))),
                name="coupon_threshold_above_amount",
                violation_error_code="threshold_not_above_amount",
                violation_error_message=_("The minimum spend must be above the amount off (满200减50: 200 and 50)."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="amount_off") | Q(amount__gt=0),
                name="coupon_amount_off_positive",
                violation_error_code="amount_required",
                violation_error_message=_("Enter the amount off, above zero."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="percent_off") | Q(percent_off__gt=0),
                name="coupon_percent_off_positive",
                violation_error_code="invalid_percent",
                violation_error_message=_("Enter a percent above 0 and at most 100 (10 means 9折)."),
            ),
            models.CheckConstraint(
                condition=Q(max_discount__isnull=True) | Q(max_discount__gt=0),
                name="coupon_cap_positive",
                violation_error_code="invalid_cap",
                violation_error_message=_("The cap must be above zero; leave it empty for none."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="gift") | Q(gift_value__gt=0),
                name="coupon_gift_has_value",
                violation_error_code="gift_value_required",
                violation_error_message=_("Enter the gift's value, above zero."),
            ),
            models.CheckConstraint(
                condition=Q(gift_value__gte=0),
                name="coupon_gift_value_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The gift's value cannot be negative."),
            ),
            # Empty is no limit; 0 would be a template that can never issue.
            models.CheckConstraint(
                condition=Q(total_quantity__isnull=True) | Q(total_quantity__gte=1),
                name="coupon_template_quantity_positive",
                violation_error_code="min_value",
                violation_error_message=_("Leave it empty for no limit, or give a number above zero."),
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="coupon_template_limit_positive",
                violation_error_code="min_value",
                violation_error_message=_("Leave it empty for no limit, or give a number above zero."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Coupon(ConstraintErrorsMixin, models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", _("Issued, not used")
        USED = "used", _("Used")
        VOID = "void", _("Voided")

    class Source(models.TextChoices):
        MANUAL = "manual", _("Issued by HQ")
        BULK = "bulk", _("Issued to a segment")
        REGISTRATION = "registration", _("Registration gift")
        BIRTHDAY = "birthday", _("Birthday gift")
        MALL = "mall", _("Bought in the points mall")
        CAMPAIGN = "campaign", _("Campaign")
        AUTOMATION = "automation", _("Automation")

    # Foreign keys without an index of their own: every index is paid for by each row of a bulk issue
    # (100,000 at once), so coupon_template_idx (template first) serves the template, and the columns most
    # coupons leave empty (sale until used, staff, campaign, automation) have partial indexes.
    template = models.ForeignKey(
        CouponTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="coupons", db_index=False
    )
    code = models.CharField(_("code"), max_length=20, help_text=_("What the member shows at the till."))
    member = models.ForeignKey(
        Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="coupons", db_index=False
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ISSUED)
    source = models.CharField(_("issued by"), max_length=16, choices=Source.choices)
    issue_key = models.CharField(
        _("issue key"),
        max_length=80,
        help_text=_("Unique per member: the same issue (a campaign, a birthday, a mall order) gives one coupon."),
    )
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    issued_at = models.DateTimeField(_("issued"), auto_now_add=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by staff"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupons",
        db_index=False,
    )
    automation = models.ForeignKey(
        "Automation",
        verbose_name=_("automation"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coupons",
        db_index=False,
    )
    sale = models.ForeignKey(
        Sale,
        verbose_name=_("used on sale"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="coupons",
        db_index=False,
    )
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    discount = models.DecimalField(_("discount given"), default=ZERO, **MONEY)

    constraint_error_fields = {"coupon_dates_ordered": "valid_until"}

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        indexes = [
            models.Index(fields=["member", "status", "valid_until"], name="coupon_member_idx"),
            models.Index(fields=["template", "status"], name="coupon_template_idx"),
            models.Index(fields=["sale"], name="coupon_sale_idx", condition=Q(sale__isnull=False)),
            models.Index(fields=["campaign"], name="coupon_campaign_idx", condition=Q(campaign__isnull=False)),
            models.Index(fields=["automation"], name="coupon_automation_idx", condition=Q(automation__isnull=False)),
            models.Index(fields=["issued_by"], name="coupon_issued_by_idx", condition=Q(issued_by__isnull=False)),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                name="coupon_code_unique",
                violation_error_code="unique",
                violation_error_message=_("Another coupon has this code."),
            ),
            models.UniqueConstraint(
                fields=["member", "issue_key"],
                name="coupon_issued_once",
                violation_error_code="duplicate",
                violation_error_message=_("The member has been given this coupon already."),
            ),
            # A coupon issued by staff (admin page, API) is keyed by its request id, which is unique across
            # members: the same request for another member is a different request, refused.
            models.UniqueConstraint(
                fields=["issue_key"],
                condition=Q(source="manual"),
                name="coupon_manual_request_once",
                violation_error_code="duplicate",
                violation_error_message=_("A coupon has been issued for this request already."),
            ),
            models.CheckConstraint(
                condition=~Q(issue_key=""),
                name="coupon_issue_key_not_empty",
                violation_error_code="required",
                violation_error_message=_("A coupon needs its issue key."),
            ),
            models.CheckConstraint(
                condition=Q(valid_from__lt=F("valid_until")),
                name="coupon_dates_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("The end is not after the start."),
            ),
            models.CheckConstraint(
                condition=(Q(status="used") & Q(sale__isnull=False) & Q(used_at__isnull=False))
                | (~Q(status="used") & Q(sale__isnull=True)),
                name="coupon_used_names_its_sale",
                violation_error_code="invalid",
                violation_error_message=_("A used coupon names the sale it was used on, and only a used one does."),
            ),
            models.CheckConstraint(
                condition=Q(discount__gte=0),
                name="coupon_discount_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The discount given cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return self.code


# --- segments ------------------------------------------------------------------------------------


class Segment(ConstraintErrorsMixin, models.Model):
    """A saved set of rules over members (campaigns.segments compiles them to one query)."""

    name = models.CharField(_("name"), max_length=64)
    description = models.TextField(_("description"), blank=True)
    rules = models.JSONField(
        _("rules"), default=list, help_text=_("All must hold: [{'field': 'tier', 'op': 'in', 'value': [...]}, …]")
    )
    member_count = models.PositiveIntegerField(_("members (last count)"), null=True, blank=True, editable=False)
    counted_at = models.DateTimeField(_("counted at"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


# --- messages ------------------------------------------------------------------------------------


class MessageChannel(models.TextChoices):
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat template message")
    EMAIL = "email", _("Email")


class MessageTemplate(ConstraintErrorsMixin, models.Model):
    """A message with {variables} ({name}, {points}, {coupon_name}, …: campaigns.messaging.variables lists
    them). Saved only through campaigns.services.messaging.message_template_save, which refuses unknown
    variables, malformed braces and texts too long for the channel."""

    name = models.CharField(_("name"), max_length=64)
    channel = models.CharField(_("channel"), max_length=8, choices=MessageChannel.choices)
    subject = models.CharField(_("subject"), max_length=120, blank=True, help_text=_("Email only."))
    body = models.TextField(_("text"), max_length=1000)
    wechat_template_id = models.CharField(
        _("WeChat template id"),
        max_length=64,
        blank=True,
        help_text=_("WeChat only: the template of the official account the text is sent with."),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    constraint_error_fields = {
        "message_template_email_has_subject": "subject",
        "message_template_wechat_has_template_id": "wechat_template_id",
    }

    class Meta:
        verbose_name = _("message template")
        verbose_name_plural = _("message templates")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=MessageChannel.values),
                name="message_template_channel_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Choose a channel: SMS, WeChat or email."),
            ),
            models.CheckConstraint(
                condition=~Q(body=""),
                name="message_template_body_not_empty",
                violation_error_code="required",
                violation_error_message=_("Write the message's text."),
            ),
            models.CheckConstraint(
                condition=~Q(channel="email") | ~Q(subject=""),
                name="message_template_email_has_subject",
                violation_error_code="required",
                violation_error_message=_("An email needs a subject."),
            ),
            models.CheckConstraint(
                condition=~Q(channel="wechat") | ~Q(wechat_template_id=""),
                name="message_template_wechat_has_template_id",
                violation_error_code="required",
                violation_error_message=_("A WeChat message needs the template id of the official account."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Message(ConstraintErrorsMixin, models.Model):
    """The outbox: one message to one member, rendered when queued, sent by a Celery task through the
    channel's backend (campaigns.messaging).

    A message goes queued → sending (claimed by one worker) → sent, or back to queued after a temporary
    failure (later, with backoff), or failed. Messages that will never be sent say why at once
    (no_consent, no_address). `last_attempt_at` is written just before the backend is called, so a
    message whose worker died during that call is known to have perhaps been sent, and is not sent again.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        NO_CONSENT = "no_consent", _("Not sent: no marketing consent")
        NO_ADDRESS = "no_address", _("Not sent: no address for the channel")

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing (needs consent)")
        SERVICE = "service", _("Service notice")
        TEST = "test", _("Test to staff")

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="messages")
    template = models.ForeignKey(
        MessageTemplate, verbose_name=_("template"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=MessageChannel.choices)
    purpose = models.CharField(_("purpose"), max_length=12, choices=Purpose.choices, default=Purpose.MARKETING)
    # Encrypted at rest (members.fields): the phone or email address, and text rendered with the member's
    # name and details. Their purposes must never change. The SQL that writes rows in bulk seals them.
    recipient = EncryptedCharField(_("to"), max_length=254, blank=True, purpose="message.recipient")
    subject = EncryptedCharField(_("subject"), max_length=150, blank=True, purpose="message.subject")
    body = EncryptedTextField(_("text"), purpose="message.body")
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    key = models.CharField(
        _("key"), max_length=120, help_text=_("Unique: the same message (campaign and member, …) is queued once.")
    )
    send_after = models.DateTimeField(_("send after"), help_text=_("Quiet hours move a message to their end."))
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    error = models.CharField(_("last error"), max_length=255, blank=True)
    provider_id = models.CharField(_("provider's id"), max_length=64, blank=True)
    claim_token = models.CharField(_("claimed by"), max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("campaign"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    automation = models.ForeignKey(
        "Automation",
        verbose_name=_("automation"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    constraint_error_fields = {"message_quiet_hours_both_or_none": "quiet_end"}

    class Meta:
        verbose_name = pgettext_lazy("outbox", "message")
        verbose_name_plural = _("outbox")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["send_after"], name="message_due_idx", condition=Q(status="queued")),
            models.Index(fields=["claimed_at"], name="message_sending_idx", condition=Q(status="sending")),
            models.Index(fields=["member", "-created_at"], name="message_member_idx"),
            models.Index(
                fields=["campaign", "status"], name="message_campaign_idx", condition=Q(campaign__isnull=False)
            ),
            models.Index(
                fields=["automation", "status"], name="message_automation_idx", condition=Q(automation__isnull=False)
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                name="message_queued_once",
                violation_error_code="duplicate",
                violation_error_message=_("This message has been queued already."),
            ),
            models.CheckConstraint(
                condition=~Q(key=""),
                name="message_key_not_empty",
                violation_error_code="required",
                violation_error_message=_("A message needs its key."),
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "sending", "sent", "failed", "no_consent", "no_address"]),
                name="message_status_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown message status."),
            ),
            models.CheckConstraint(
                condition=Q(channel__in=MessageChannel.values),
                name="message_channel_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown channel."),
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=["marketing", "service", "test"]),
                name="message_purpose_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown message purpose."),
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="message_sent_has_time",
                violation_error_code="invalid",
                violation_error_message=_("A sent message says when it was sent."),
            ),
            models.CheckConstraint(
                condition=~Q(status="sending") | (Q(claimed_at__isnull=False) & ~Q(claim_token="")),
                name="message_sending_is_claimed",
                violation_error_code="invalid",
                violation_error_message=_("A message being sent is claimed by one worker."),
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["queued", "sending", "sent"]) | ~Q(recipient=""),
                name="message_to_send_has_recipient",
                violation_error_code="required",
                violation_error_message=_("A message to send needs a recipient."),
            ),
            models.CheckConstraint(
                condition=(Q(quiet_start__isnull=True) & Q(quiet_end__isnull=True))
                | (Q(quiet_start__isnull=False) & Q(quiet_end__isnull=False) & ~Q(quiet_start=F("quiet_end"))),
                name="message_quiet_hours_both_or_none",
                violation_error_code="quiet_hours_invalid",
                violation_error_message=_("Give both ends of the quiet hours, at different times, or neither."),
            ),
            # Campaign and automation messages are marketing: they need the member's consent.
            models.CheckConstraint(
                condition=Q(purpose="marketing") | (Q(campaign__isnull=True) & Q(automation__isnull=True)),
                name="message_campaign_is_marketing",
                violation_error_code="invalid",
                violation_error_message=_("A campaign's or an automation's message is a marketing message."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk}"


# --- campaigns -----------------------------------------------------------------------------------


class Campaign(ConstraintErrorsMixin, models.Model):
    """A segment's members, a share of them held out, and what the others get, with its effect measured
    over [starts_at, ends_at) against the holdout group."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        CANCELLED = "cancelled", _("Cancelled")

    name = models.CharField(_("name"), max_length=64)
    segment = models.ForeignKey(Segment, verbose_name=_("segment"), on_delete=models.PROTECT, related_name="campaigns")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"), help_text=_("The end of the window over which its effect is measured."))
    holdout_percent = models.DecimalField(
        _("holdout group (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("10.0"),
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        help_text=_("A random share of the segment that gets nothing, to measure the campaign against."),
    )
    coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("coupon to issue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    points = models.PositiveIntegerField(_("points to award"), default=0)
    multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(1)],
        help_text=_("Sales of the target group earn this many times their points while the campaign runs."),
    )
    message_template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("message to send"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="campaigns",
    )
    coupon_to_everyone = models.BooleanField(
        _("issue the coupon to everyone anyway"),
        default=False,
        help_text=_(
            "Off (the default): members of the segment who cannot use the coupon (not of its tiers) are left out "
            "of the campaign, and the holdout group is drawn among those who can. On: everyone in the segment "
            "gets it, whether they can use it or not."
        ),
    )
    target_count = models.PositiveIntegerField(_("target group"), default=0, editable=False)
    holdout_count = models.PositiveIntegerField(_("holdout group"), default=0, editable=False)
    excluded_count = models.PositiveIntegerField(
        _("left out: cannot use the coupon"),
        default=0,
        editable=False,
        help_text=_("Members of the segment at launch who could not use the coupon and were left out."),
    )
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    constraint_error_fields = {"campaign_dates_ordered": "ends_at"}

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")),
                name="campaign_dates_ordered",
                violation_error_code="dates_unordered",
                violation_error_message=_("The campaign must end after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0) & Q(holdout_percent__lte=50),
                name="campaign_holdout_in_range",
                violation_error_code="holdout_out_of_range",
                violation_error_message=_("The holdout group is from 0 to 50 percent."),
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gte=1),
                name="campaign_multiplier_at_least_one",
                violation_error_code="multiplier_below_one",
                violation_error_message=_("The points multiplier is at least 1 (1 means no multiplier)."),
            ),
            # Launching is what snapshots the members and gives the actions: a running or finished
            # campaign without a launch time would be one whose effect has nothing to measure.
            models.CheckConstraint(
                condition=~Q(status__in=["running", "finished"]) | Q(launched_at__isnull=False),
                name="campaign_launched_when_running",
                violation_error_code="not_launched",
                violation_error_message=_("A running or finished campaign has been launched."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignMember(ConstraintErrorsMixin, models.Model):
    """Who a campaign drew, and in which group: the snapshot its effect is measured on."""

    class Group(models.TextChoices):
        TARGET = "target", _("Target")
        HOLDOUT = "holdout", _("Holdout")

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="+")
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    group = models.CharField(_("group"), max_length=8, choices=Group.choices)

    class Meta:
        verbose_name = _("campaign member")
        verbose_name_plural = _("campaign members")
        indexes = [models.Index(fields=["member", "campaign"], name="campaign_member_member_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "member"],
                name="campaign_member_once",
                violation_error_code="duplicate",
                violation_error_message=_("The member is in this campaign already."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.member_id} {self.group}"


class PointsBoost(ConstraintErrorsMixin, models.Model):
    """A window in which a member's sales earn extra points (a campaign's double points for its target
    group, an automation's win-back gift). Checkout asks for the member's boosts at the time of a sale
    (loyalty.services.earning.register_points_boost_source); overlapping boosts count once, the best."""

    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    multiplier = models.DecimalField(_("multiplier"), max_digits=4, decimal_places=2)
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    campaign = models.ForeignKey(
        "Campaign", verbose_name=_("campaign"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    automation = models.ForeignKey(
        "Automation", verbose_name=_("automation"), on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )

    constraint_error_fields = {"points_boost_dates_ordered": "ends_at"}

    class Meta:
        verbose_name = _("points boost")
        verbose_name_plural = _("points boosts")
        indexes = [models.Index(fields=["member", "ends_at"], name="points_boost_member_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(multiplier__gt=1),
                name="points_boost_above_one",
                violation_error_code="min_value",
                violation_error_message=_("A points boost multiplies by more than 1."),
            ),
            models.CheckConstraint(
                condition=Q(starts_at__lt=F("ends_at")),
                name="points_boost_dates_ordered",
                violation_error_code="invalid_range",
                violation_error_message=_("The end is not after the start."),
            ),
            models.UniqueConstraint(
                fields=["campaign", "member"],
                condition=Q(campaign__isnull=False),
                name="points_boost_once_per_campaign",
                violation_error_code="duplicate",
                violation_error_message=_("The member has this campaign's points boost already."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.member_id} ×{self.multiplier}"


# --- automations ---------------------------------------------------------------------------------


class Automation(ConstraintErrorsMixin, models.Model):
    """A journey: when the trigger happens to a member who meets the conditions, do the actions, once
    per member and occurrence, at most `max_per_member` times per `cap_days`."""

    class Trigger(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday (N days before)")
        DORMANT = "dormant", _("Dormant: no purchase for N days")
        POINTS_EXPIRING = "points_expiring", _("Points expiring within N days")
        DOWNGRADE_RISK = "downgrade_risk", _("Tier downgrade within N days unless they spend")
        FIRST_PURCHASE = "first_purchase", _("First purchase")
        REFERRAL_SUCCESS = "referral_success", _("A member they referred made a first purchase")
        AFTER_TOPUP = "after_topup", _("After a stored-value top-up")
        CHURN_RISK = "churn_risk", _("At risk of churning (scored by analytics)")
        CARD_EXPIRING = "card_expiring", _("Service card expiring within N days")

    name = models.CharField(_("name"), max_length=64)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    days = models.PositiveIntegerField(_("N (days)"), default=0, help_text=_("The trigger's number of days."))
    segment = models.ForeignKey(
        Segment,
        verbose_name=_("only members of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="automations",
        help_text=_("The conditions: empty means every member the trigger finds."),
    )
    coupon_template = models.ForeignKey(
        CouponTemplate,
        verbose_name=_("coupon to issue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    points = models.PositiveIntegerField(_("points to award"), default=0)
    message_template = models.ForeignKey(
        MessageTemplate,
        verbose_name=_("message to send"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    multiplier = models.DecimalField(
        _("points multiplier"),
        max_digits=4,
        decimal_places=2,
        default=Decimal("1.00"),
        validators=[MinValueValidator(1)],
        help_text=_("For the member's sales in the next N days (below): 2 is double points."),
    )
    multiplier_days = models.PositiveIntegerField(_("multiplier for (days)"), default=0)
    actions_by_reason = models.JSONField(
        _("actions by churn reason"),
        default=dict,
        blank=True,
        help_text=_(
            "Win-back: per churn reason (price_sensitive, category_shift, long_inactive) what to do instead of "
            "the actions above: {'coupon_template': id, 'points': n, 'message_template': id, 'multiplier': 2, "
            "'multiplier_days': 7}."
        ),
    )
    max_per_member = models.PositiveIntegerField(_("at most per member"), default=1)
    cap_days = models.PositiveIntegerField(_("… per this many days"), default=30)
    holdout_percent = models.DecimalField(
        _("holdout group (%)"),
        max_digits=4,
        decimal_places=1,
        default=Decimal("0.0"),
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        help_text=_("A fixed share of the members it finds that gets nothing, to measure the automation against."),
    )
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True, help_text=_("Local time, e.g. 21:00."))
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True, help_text=_("Local time, e.g. 09:00."))
    is_active = models.BooleanField(_("active"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    constraint_error_fields = {
        "automation_quiet_hours_both_or_none": "quiet_end",
        "automation_multiplier_has_days": "multiplier_days",
    }

    class Meta:
        verbose_name = _("automation")
        verbose_name_plural = _("automations")
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_per_member__gte=1),
                name="automation_cap_at_least_one",
                violation_error_code="min_value",
                violation_error_message=_("At most per member is a whole number of 1 or more."),
            ),
            models.CheckConstraint(
                condition=Q(holdout_percent__gte=0) & Q(holdout_percent__lte=50),
                name="automation_holdout_in_range",
                violation_error_code="holdout_out_of_range",
                violation_error_message=_("The holdout group is from 0 to 50 percent."),
            ),
            models.CheckConstraint(
                condition=Q(multiplier__gte=1),
                name="automation_multiplier_at_least_one",
                violation_error_code="multiplier_below_one",
                violation_error_message=_("The points multiplier is at least 1 (1 means no multiplier)."),
            ),
            models.CheckConstraint(
                condition=(Q(quiet_start__isnull=True) & Q(quiet_end__isnull=True))
                | (Q(quiet_start__isnull=False) & Q(quiet_end__isnull=False) & ~Q(quiet_start=F("quiet_end"))),
                name="automation_quiet_hours_both_or_none",
                violation_error_code="quiet_hours_invalid",
                violation_error_message=_("Give both ends of the quiet hours, at different times, or neither."),
            ),
            models.CheckConstraint(
                condition=Q(cap_days__gte=1),
                name="automation_cap_days_positive",
                violation_error_code="min_value",
                violation_error_message=_("The frequency cap counts over at least 1 day."),
            ),
            models.CheckConstraint(
                condition=Q(multiplier=1) | Q(multiplier_days__gte=1),
                name="automation_multiplier_has_days",
                violation_error_code="multiplier_days_required",
                violation_error_message=_("Say for how many days the points multiplier applies."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class AutomationEffect(ConstraintErrorsMixin, models.Model):
    """One member reached by one occurrence of an automation's trigger (the birthday of 2026, the dormancy
    that began after the sale of 2026-03-01, the top-up #123): the once-only record of what it did."""

    automation = models.ForeignKey(
        Automation, verbose_name=_("automation"), on_delete=models.CASCADE, related_name="effects"
    )
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.CASCADE, related_name="+")
    occurrence = models.CharField(_("occurrence"), max_length=80)
    reason = models.CharField(_("churn reason"), max_length=24, blank=True)
    coupon = models.ForeignKey(Coupon, verbose_name=_("coupon"), on_delete=models.SET_NULL, null=True, blank=True)
    points = models.PositiveIntegerField(_("points"), default=0)
    message = models.ForeignKey(
        Message, verbose_name=pgettext_lazy("outbox", "message"), on_delete=models.SET_NULL, null=True, blank=True
    )
    skipped = models.CharField(_("skipped because"), max_length=64, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True)

    class Meta:
        verbose_name = _("automation effect")
        verbose_name_plural = _("automation effects")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["member", "automation", "-created_at"], name="automation_effect_member_idx"),
            # The automation's page lists its latest effects and counts those of the last 30 days.
            models.Index(fields=["automation", "-created_at"], name="automation_effect_recent_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["automation", "member", "occurrence"],
                name="automation_effect_once",
                violation_error_code="duplicate",
                violation_error_message=_("The automation has reached this member for this occurrence already."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.automation_id}/{self.member_id} {self.occurrence}"


# --- points mall ---------------------------------------------------------------------------------


class MallItem(ConstraintErrorsMixin, models.Model):
    """A reward members buy with points: a gift picked up in store (with stock) or a coupon."""

    class Kind(models.TextChoices):
        GIFT = "gift", _("Gift, picked up in store")
        COUPON = "coupon", _("Coupon")

    name = models.CharField(_("name"), max_length=64)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    description = models.TextField(_("description"), blank=True)
    points_price = models.PositiveIntegerField(_("price (points)"), validators=[MinValueValidator(1)])
    coupon_template = models.ForeignKey(
        CouponTemplate, verbose_name=_("coupon"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: no limit."))
    tiers = models.ManyToManyField(
        Tier, verbose_name=_("tiers"), blank=True, related_name="+", help_text=_("Empty: every tier.")
    )
    per_member_limit = models.PositiveIntegerField(_("at most per member"), null=True, blank=True)
    cost = models.DecimalField(_("cost to the chain (¥)"), default=ZERO, **MONEY)
    is_active = models.BooleanField(_("on sale"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    constraint_error_fields = {
        "mall_coupon_item_has_template": "coupon_template",
        "mall_gift_item_has_no_template": "coupon_template",
    }

    class Meta:
        verbose_name = _("mall item")
        verbose_name_plural = _("points mall")
        ordering = ["points_price", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_price__gt=0),
                name="mall_price_positive",
                violation_error_code="min_value",
                violation_error_message=_("The price is at least 1 point."),
            ),
            models.CheckConstraint(
                condition=Q(stock__isnull=True) | Q(stock__gte=0),
                name="mall_stock_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The stock cannot go below zero."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="coupon") | Q(coupon_template__isnull=False),
                name="mall_coupon_item_has_template",
                violation_error_code="required",
                violation_error_message=_("Choose the coupon this item gives."),
            ),
            models.CheckConstraint(
                condition=~Q(kind="gift") | Q(coupon_template__isnull=True),
                name="mall_gift_item_has_no_template",
                violation_error_code="invalid",
                violation_error_message=_("A gift picked up in store gives no coupon: leave it empty."),
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="mall_limit_positive",
                violation_error_code="min_value",
                violation_error_message=_("Leave it empty for no limit, or give a number above zero."),
            ),
            models.CheckConstraint(
                condition=Q(cost__gte=0),
                name="mall_cost_not_negative",
                violation_error_code="min_value",
                violation_error_message=_("The cost cannot be negative."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class MallOrder(ConstraintErrorsMixin, models.Model):
    class Status(models.TextChoices):
        PLACED = "placed", _("Placed, to pick up")
        HANDED_OVER = "handed_over", _("Handed over")
        DELIVERED = "delivered", _("Coupon issued")
        CANCELLED = "cancelled", _("Cancelled, points returned")

    request_id = models.CharField(_("request id"), max_length=64)
    member = models.ForeignKey(Member, verbose_name=_("member"), on_delete=models.PROTECT, related_name="mall_orders")
    item = models.ForeignKey(MallItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="orders")
    points = models.PositiveIntegerField(_("points paid"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    store = models.ForeignKey(
        Store, verbose_name=_("pick-up store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    coupon = models.ForeignKey(Coupon, verbose_name=_("coupon"), on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField(_("ordered"), auto_now_add=True)
    handed_over_at = models.DateTimeField(_("handed over"), null=True, blank=True)
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handed over by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("mall order")
        verbose_name_plural = _("mall orders")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["member", "item"], name="mall_order_member_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["request_id"],
                name="mall_order_request_once",
                violation_error_code="duplicate",
                violation_error_message=_("An order with this request id has been placed already."),
            ),
            models.CheckConstraint(
                condition=~Q(status="handed_over")
                | (Q(handed_over_at__isnull=False) & Q(handed_over_by__isnull=False)),
                name="mall_order_handover_recorded",
                violation_error_code="invalid",
                violation_error_message=_("A handed-over order says when and by whom."),
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered") | Q(coupon__isnull=False),
                name="mall_order_delivered_has_coupon",
                violation_error_code="invalid",
                violation_error_message=_("A delivered coupon order names its coupon."),
            ),
            models.CheckConstraint(
                condition=~Q(status="handed_over") | Q(store__isnull=False),
                name="mall_order_handed_over_at_a_store",
                violation_error_code="invalid",
                violation_error_message=_("A handed-over order names the store."),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.item_id}"
