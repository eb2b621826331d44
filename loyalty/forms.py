"""Forms of the loyalty back office. They check and shape input; the services decide and write."""

import re
import uuid
from datetime import date
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from config.widgets import IsoDateInput
from loyalty.models import EarningRule, LoyaltySettings, RechargePackage, Tier, TierPolicy, TopUp
from loyalty.services.tiers import tier_validate_threshold
from members.codes import is_member_code, member_code_from_qr
from members.models import Member
from members.phones import normalize_phone
from members.selectors import member_by_phone

_LIST_SEPARATORS = re.compile(r"[,，、;；\n\r]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class CommaSeparatedListField(forms.CharField):
    """A JSON list of short strings, typed as "烟酒, 充值卡" (Chinese commas and new lines work too)."""

    def __init__(self, *, item_max_length: int = 64, max_items: int = 200, **kwargs):
        self.item_max_length = item_max_length
        self.max_items = max_items
        kwargs.setdefault("required", False)
        kwargs.setdefault("max_length", 20_000)
        kwargs.setdefault("widget", forms.TextInput(attrs={"size": 50}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value) -> list[str]:
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        text = super().to_python(value)
        items: list[str] = []
        for part in _LIST_SEPARATORS.split(text or ""):
            item = part.strip()
            if item and item not in items:
                items.append(item)
        return items

    def validate(self, value: list[str]) -> None:
        if self.required and not value:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(value) > self.max_items:
            raise ValidationError(_("At most %(max)d entries."), code="too_many_items", params={"max": self.max_items})
        for item in value:
            if len(item) > self.item_max_length:
                raise ValidationError(
                    _("“%(item)s…” is longer than %(max)d characters."),
                    code="item_too_long",
                    params={"item": item[:20], "max": self.item_max_length},
                )
            if _CONTROL.search(item):
                raise ValidationError(_("Entries cannot contain control characters."), code="invalid_item")

    def has_changed(self, initial, data) -> bool:
        try:
            return list(initial or []) != self.to_python(data)
        except ValidationError:
            return True


class RuleChangeForm(forms.ModelForm):
    """The rule forms ask why a rule changes; the answer goes into the audit trail with the change."""

    change_reason = forms.CharField(
        label=capfirst(_("reason for the change")),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"size": 50}),
        help_text=_("Kept in the audit trail with who changed what and when."),
    )


class LoyaltySettingsForm(RuleChangeForm):
    class Meta:
        model = LoyaltySettings
        fields = [
            "redeem_points_per_yuan",
            "redeem_step",
            "redeem_max_share",
            "expiry_policy",
            "expiry_months",
            "annual_clearing_month",
            "annual_clearing_day",
            "pending_days",
            "wallet_split",
            "wallet_earns_points",
            "signin_points",
            "signin_streak_days",
            "signin_streak_bonus",
            "profile_completion_points",
            "review_points",
            "share_points",
            "referral_referrer_points",
            "referral_referred_points",
            "referral_min_purchase",
            "referral_monthly_cap",
            "manager_adjust_max_per_operation",
            "manager_adjust_max_per_day",
            "refund_window_days",
        ]


class TierPolicyForm(RuleChangeForm):
    class Meta:
        model = TierPolicy
        fields = ["metric", "window_days", "retention_days"]


class TierForm(RuleChangeForm):
    class Meta:
        model = Tier
        fields = [
            "code",
            "name",
            "rank",
            "threshold",
            "discount_percent",
            "points_multiplier",
            "birthday_points",
            "free_shipping",
        ]

    def clean(self):
        cleaned = super().clean()
        rank, threshold = cleaned.get("rank"), cleaned.get("threshold")
        if rank is not None and threshold is not None:
            try:
                tier_validate_threshold(rank=rank, threshold=threshold, tier=self.instance)
            except ValidationError as error:
                self.add_error(None, error)
        return cleaned


class RechargePackageForm(RuleChangeForm):
    class Meta:
        model = RechargePackage
        fields = ["name", "pay_amount", "bonus_amount", "is_active"]


class EarningRuleForm(RuleChangeForm):
    excluded_categories = CommaSeparatedListField(
        label=capfirst(_("excluded categories")),
        help_text=_("Separate with commas, e.g. tobacco, gift cards. Lines in these categories earn no points."),
    )
    excluded_skus = CommaSeparatedListField(
        label=capfirst(_("excluded SKUs")),
        help_text=_("Separate with commas. Lines with these SKUs earn no points."),
    )

    class Meta:
        model = EarningRule
        fields = [
            "name",
            "is_active",
            "priority",
            "points_per_yuan",
            "stores",
            "starts_on",
            "ends_on",
            "excluded_categories",
            "excluded_skus",
            "member_day_weekday",
            "member_day_multiplier",
            "birthday_month_multiplier",
            "use_tier_multiplier",
            "combine",
            "per_sale_cap",
            "per_day_cap",
        ]
        widgets = {
            "starts_on": IsoDateInput,
            "ends_on": IsoDateInput,
        }


def member_by_code_or_phone(text: str) -> Member | None:
    """The member with exactly this member code, card QR payload or (full) phone number."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("MBR1."):
        try:
            return Member.objects.filter(code=member_code_from_qr(text)).first()
        except ValidationError:
            return None
    if is_member_code(text):
        return Member.objects.filter(code=text).first()
    try:
        phone = normalize_phone(text)
    except ValidationError:
        return None
    return member_by_phone(phone)


class PointsAdjustmentForm(forms.Form):
    """A manual adjustment. The hidden request id is made when the form is first shown, so
    submitting the same form twice (a double click, a browser resend) adjusts once."""

    required_css_class = "required"

    member = forms.CharField(
        label=capfirst(_("member")),
        max_length=64,
        help_text=_("Member code (10 digits) or the full phone number."),
        widget=forms.TextInput(attrs={"autofocus": True, "size": 24}),
    )
    points = forms.IntegerField(
        label=capfirst(_("points")),
        help_text=_("Positive to add, negative to deduct (e.g. -200)."),
        min_value=-10_000_000,
        max_value=10_000_000,
    )
    reason = forms.CharField(
        label=capfirst(_("reason")),
        max_length=255,
        widget=forms.TextInput(attrs={"size": 50}),
        help_text=_("Required; kept in the ledger and the audit trail."),
    )
    request_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("request_id", str(uuid.uuid4()))
        self.member_obj: Member | None = None

    def clean_member(self) -> str:
        text = self.cleaned_data["member"]
        member = member_by_code_or_phone(text)
        if member is None:
            raise ValidationError(_("No member has this member code or phone number."), code="member_not_found")
        self.member_obj = member
        return text

    def clean_points(self) -> int:
        points = self.cleaned_data["points"]
        if points == 0:
            raise ValidationError(_("Enter a whole number of points other than zero."), code="invalid_points")
        return points

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason for the adjustment."), code="reason_required")
        return reason

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the fields it names (the rest above the form)."""
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in self.fields and field != "request_id" else None, errors)
        else:
            self.add_error(None, error)


MAX_REPORT_DAYS = 3 * 366


class DateRangeForm(forms.Form):
    """A reporting period in local business days; both ends included. Defaults to this month."""

    start = forms.DateField(label=capfirst(_("from")), required=False, widget=IsoDateInput)
    end = forms.DateField(label=capfirst(_("until")), required=False, widget=IsoDateInput)

    @staticmethod
    def this_month() -> tuple[date, date]:
        today = timezone.localdate()
        return today.replace(day=1), today

    def clean(self):
        cleaned = super().clean()
        if "start" in self.errors or "end" in self.errors:
            return cleaned
        start, end = cleaned.get("start"), cleaned.get("end")
        if start is None and end is None:
            start, end = self.this_month()
        elif start is None:
            start = end.replace(day=1)
        elif end is None:
            end = max(timezone.localdate(), start)
        if end < start:
            self.add_error("end", ValidationError(_("The end is before the start."), code="invalid_range"))
        elif (end - start).days >= MAX_REPORT_DAYS:
            self.add_error(
                "end",
                ValidationError(
                    _("Choose at most %(days)d days."), code="range_too_long", params={"days": MAX_REPORT_DAYS}
                ),
            )
        cleaned["start"], cleaned["end"] = start, end
        return cleaned


class DowngradeRiskForm(forms.Form):
    within_days = forms.IntegerField(
        label=capfirst(_("can drop within (days)")), required=False, min_value=0, max_value=366, initial=30
    )

    def clean_within_days(self) -> int:
        value = self.cleaned_data.get("within_days")
        return 30 if value is None else value


# --- the store tablet ----------------------------------------------------------------------------


def _new_request_id() -> str:
    return str(uuid.uuid4())


class TabletRequestForm(forms.Form):
    """Every tablet write carries the request id rendered with its form: a double tap, a resubmit after
    a timeout or the back button sends the same id, and the service answers the first result."""

    request_id = forms.CharField(max_length=64, widget=forms.HiddenInput, initial=_new_request_id)


class TabletRefundForm(TabletRequestForm):
    WHOLE, LINES, AMOUNT = "whole", "lines", "amount"
    how = forms.ChoiceField(
        label=_("Refund"),
        choices=[(WHOLE, _("The whole sale")), (LINES, _("Some lines")), (AMOUNT, _("An amount"))],
        initial=WHOLE,
        widget=forms.RadioSelect,
    )
    amount = forms.DecimalField(label=_("Amount (¥)"), required=False, min_value=Decimal("0.01"), decimal_places=2)
    reason = forms.CharField(label=_("Reason"), max_length=255)
    approver_username = forms.CharField(label=_("Manager's username"), required=False, max_length=150)
    approver_password = forms.CharField(
        label=_("Manager's password"), required=False, max_length=128, strip=False, widget=forms.PasswordInput
    )


class TabletTopUpForm(TabletRequestForm):
    package = forms.ModelChoiceField(
        label=_("Package"), queryset=RechargePackage.objects.filter(is_active=True), required=False
    )
    amount = forms.DecimalField(
        label=_("Or an amount (¥)"), required=False, min_value=Decimal("0.01"), decimal_places=2, max_digits=9
    )
    tender = forms.ChoiceField(
        label=_("Paid with"), choices=TopUp.Tender.choices, initial=TopUp.Tender.CASH, widget=forms.RadioSelect
    )

    def clean(self):
        data = super().clean()
        if (data.get("package") is None) == (data.get("amount") is None):
            raise ValidationError(_("Choose a package or enter an amount."), code="package_or_amount")
        return data


class TabletAdjustForm(TabletRequestForm):
    points = forms.IntegerField(label=_("Points (negative to take away)"))
    reason = forms.CharField(label=_("Reason"), max_length=255)


class ReviewResolveForm(forms.Form):
    note = forms.CharField(label=_("What was done"), max_length=500)
