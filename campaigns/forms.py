"""Forms of the coupons and points-mall back office. They check and shape input; services decide and write."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from campaigns.models import CouponTemplate, MallItem
from loyalty.forms import CommaSeparatedListField, RuleChangeForm, member_by_code_or_phone
from loyalty.models import Sale
from members.models import Member

ZERO = Decimal("0.00")

# The fields each kind uses; the others are cleared when a template is saved, so a stored row says
# only what applies (a percent-off coupon keeps no stray amount).
KIND_FIELDS = {
    CouponTemplate.Kind.THRESHOLD_OFF: {"amount", "threshold"},
    CouponTemplate.Kind.AMOUNT_OFF: {"amount"},
    CouponTemplate.Kind.PERCENT_OFF: {"percent_off", "max_discount", "threshold"},
    CouponTemplate.Kind.GIFT: {"gift_name", "gift_value"},
}
CLEARED = {
    "amount": ZERO,
    "threshold": ZERO,
    "percent_off": ZERO,
    "max_discount": None,
    "gift_name": "",
    "gift_value": ZERO,
}
# What existing coupons follow at checkout: fixed once a template has issued coupons.
TERMS = ["kind", "amount", "threshold", "percent_off", "max_discount", "gift_name", "gift_value", "categories"]

VALIDITY_DATES, VALIDITY_DAYS = "dates", "days"


class CouponTemplateForm(RuleChangeForm):
    validity = forms.ChoiceField(
        label=capfirst(_("validity")),
        choices=[
            (VALIDITY_DAYS, _("A number of days after each coupon is issued")),
            (VALIDITY_DATES, _("Fixed dates, the same for every coupon")),
        ],
        initial=VALIDITY_DAYS,
        widget=forms.RadioSelect,
    )
    categories = CommaSeparatedListField(
        label=capfirst(_("categories")),
        help_text=_(
            "Separate with commas, e.g. drinks, bakery. Only lines of these categories count toward the minimum spend "
            "and are discounted; empty: every line. A gift coupon needs the gift's category."
        ),
    )
    channels = forms.MultipleChoiceField(
        label=capfirst(_("channels")),
        choices=Sale.Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Where it can be used; none ticked: both."),
    )

    class Meta:
        model = CouponTemplate
        fields = [
            "name",
            "kind",
            "amount",
            "threshold",
            "percent_off",
            "max_discount",
            "gift_name",
            "gift_value",
            "categories",
            "channels",
            "tiers",
            "stores",
            "valid_from",
            "valid_until",
            "valid_days",
            "total_quantity",
            "per_member_limit",
            "stackable",
            "on_registration",
            "is_active",
        ]
        field_classes = {"valid_from": forms.SplitDateTimeField, "valid_until": forms.SplitDateTimeField}
        widgets = {"valid_from": AdminSplitDateTime, "valid_until": AdminSplitDateTime}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk is not None:
            self.initial["validity"] = VALIDITY_DAYS if instance.valid_days is not None else VALIDITY_DATES
        for name in ("valid_from", "valid_until"):
            self.fields[name].required = False
        if self.terms_fixed:
            for name in TERMS:
                if name in self.fields:
                    self.fields[name].disabled = True

    @property
    def terms_fixed(self) -> bool:
        """Coupons already issued follow their template's terms at checkout: those stay as issued."""
        return self.instance.pk is not None and self.instance.issued_count > 0

    def _need(self, field: str, message, code: str) -> None:
        self.add_error(field, ValidationError(message, code=code))

    def clean(self):
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if kind in KIND_FIELDS and not self.terms_fixed:
            self._clean_kind(kind, cleaned)
            for name, empty in CLEARED.items():
                if name not in KIND_FIELDS[kind]:
                    cleaned[name] = empty
        self._clean_validity(cleaned)
        total, limit = cleaned.get("total_quantity"), cleaned.get("per_member_limit")
        if total is not None and total < self.instance.issued_count:
            self._need(
                "total_quantity",
                _("%(issued)d coupons have been issued already: the total cannot be lower.")
                % {"issued": self.instance.issued_count},
                "below_issued",
            )
        if total == 0:
            self._need("total_quantity", _("Leave it empty for no limit, or give a number above zero."), "invalid")
        if limit == 0:
            self._need("per_member_limit", _("Leave it empty for no limit, or give a number above zero."), "invalid")
        return cleaned

    def _clean_kind(self, kind: str, cleaned: dict) -> None:
        amount = cleaned.get("amount") or ZERO
        threshold = cleaned.get("threshold") or ZERO
        if kind in (CouponTemplate.Kind.THRESHOLD_OFF, CouponTemplate.Kind.AMOUNT_OFF) and amount <= 0:
            self._need("amount", _("Enter the amount off, above zero."), "amount_required")
        if kind == CouponTemplate.Kind.THRESHOLD_OFF and amount > 0 and threshold <= amount:
            self._need(
                "threshold",
                _("The minimum spend must be above the amount off (满200减50: 200 and 50)."),
                "threshold_not_above_amount",
            )
        if kind == CouponTemplate.Kind.AMOUNT_OFF and threshold:
            self._need(
                "threshold",
                _("An amount-off coupon has no minimum spend; choose “amount off above a threshold” for one."),
                "threshold_not_allowed",
            )
        if kind == CouponTemplate.Kind.PERCENT_OFF:
            percent = cleaned.get("percent_off") or ZERO
            if not ZERO < percent <= 100:
                self._need(
                    "percent_off", _("Enter a percent above 0 and at most 100 (10 means 9折)."), "invalid_percent"
                )
            cap = cleaned.get("max_discount")
            if cap is not None and cap <= 0:
                self._need("max_discount", _("The cap must be above zero; leave it empty for none."), "invalid_cap")
        if kind == CouponTemplate.Kind.GIFT:
            if not (cleaned.get("gift_name") or "").strip():
                self._need("gift_name", _("Say what the coupon is exchanged for."), "gift_required")
            if (cleaned.get("gift_value") or ZERO) <= 0:
                self._need("gift_value", _("Enter the gift's value, above zero."), "gift_value_required")
            if not cleaned.get("categories"):
                self._need(
                    "categories", _("Give the gift's category: the coupon takes that line off."), "category_required"
                )

    def _clean_validity(self, cleaned: dict) -> None:
        mode = cleaned.get("validity")
        start, end, days = cleaned.get("valid_from"), cleaned.get("valid_until"), cleaned.get("valid_days")
        if mode == VALIDITY_DAYS:
            if not days:
                self._need("valid_days", _("Enter for how many days each coupon is valid (at least 1)."), "required")
            cleaned["valid_from"] = cleaned["valid_until"] = None
        elif mode == VALIDITY_DATES:
            if end is None:
                self._need("valid_until", _("Enter until when the coupons are valid."), "required")
            elif start is not None and start >= end:
                self._need("valid_until", _("The end is not after the start."), "invalid_range")
            cleaned["valid_days"] = None


class CouponIssueForm(forms.Form):
    """One coupon of a template to one member. The hidden request id is made when the form is first
    shown, so submitting the same form twice issues once."""

    required_css_class = "required"

    template = forms.ModelChoiceField(
        label=capfirst(_("coupon")), queryset=CouponTemplate.objects.none(), empty_label=None
    )
    member = forms.CharField(
        label=capfirst(_("member")),
        max_length=64,
        help_text=_("Member code (10 digits) or the full phone number."),
        widget=forms.TextInput(attrs={"autofocus": True, "size": 24}),
    )
    issue_anyway = forms.BooleanField(
        label=_("Issue it even if the member cannot use it"),
        required=False,
        help_text=_(
            "Off: a member not of the coupon's tiers is refused, with the reason. On: recorded in the audit trail."
        ),
    )
    request_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates
        if not self.is_bound:
            self.initial.setdefault("request_id", str(uuid.uuid4()))
        self.member_obj: Member | None = None

    def clean_member(self) -> str:
        text = self.cleaned_data["member"]
        self.member_obj = member_by_code_or_phone(text)
        if self.member_obj is None:
            raise ValidationError(_("No member has this member code or phone number."), code="member_not_found")
        return text

    def add_service_errors(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            for field, errors in error.error_dict.items():
                self.add_error(field if field in ("template", "member") else None, errors)
        else:
            self.add_error(None, error)


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=capfirst(_("reason")),
        max_length=255,
        widget=forms.TextInput(attrs={"size": 60, "autofocus": True}),
        help_text=_("Required; kept in the audit trail."),
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise ValidationError(_("Give a reason."), code="reason_required")
        return reason


class MallItemForm(RuleChangeForm):
    stock_change = forms.IntegerField(
        label=capfirst(_("add to stock")),
        required=False,
        min_value=-1_000_000,
        max_value=1_000_000,
        help_text=_("Received more: a positive number; damaged or lost: a negative one."),
    )

    class Meta:
        model = MallItem
        fields = [
            "name",
            "kind",
            "description",
            "points_price",
            "coupon_template",
            "stock",
            "tiers",
            "per_member_limit",
            "cost",
            "is_active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            # Orders move the stock meanwhile: it changes by what is added, never by overwriting it.
            self.fields["stock"].disabled = True
            self.fields["stock"].help_text = _("Change it with “add to stock” below.")
            if self.instance.stock is None:
                del self.fields["stock_change"]
        else:
            del self.fields["stock_change"]
            self.fields["stock"].help_text = _("How many there are to give; empty: no limit.")
        self.fields["coupon_template"].queryset = CouponTemplate.objects.filter(is_active=True).order_by("name")

    def clean(self):
        cleaned = super().clean()
        kind, template = cleaned.get("kind"), cleaned.get("coupon_template")
        if kind == MallItem.Kind.COUPON and template is None:
            self.add_error("coupon_template", ValidationError(_("Choose the coupon this item gives."), code="required"))
        if kind == MallItem.Kind.GIFT and template is not None:
            self.add_error(
                "coupon_template",
                ValidationError(_("A gift picked up in store gives no coupon: leave it empty."), code="invalid"),
            )
        change = cleaned.get("stock_change")
        if change and self.instance.stock is not None and self.instance.stock + change < 0:
            self.add_error(
                "stock_change",
                ValidationError(
                    _("Only %(stock)d in stock: that much cannot be taken away.") % {"stock": self.instance.stock},
                    code="invalid_stock",
                ),
            )
        if cleaned.get("per_member_limit") == 0:
            self.add_error(
                "per_member_limit",
                ValidationError(_("Leave it empty for no limit, or give a number above zero."), code="invalid"),
            )
        return cleaned
