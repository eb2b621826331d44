"""The automation form: the model's fields, and the win-back by churn reason as one small row of selects
per reason, from which the form builds actions_by_reason. Checked by the service's own validation, so
the page says exactly what saving would refuse."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from campaigns.churn import ChurnReason
from campaigns.models import Automation, CouponTemplate, MessageTemplate
from campaigns.services.automations import automation_validate
from config.widgets import IsoTimeInput

MULTIPLIER_CHOICES = [("", "—"), ("1.5", "×1.5"), ("2", "×2"), ("3", "×3")]
REASON_FIELDS = ("coupon_template", "points", "message_template", "multiplier", "multiplier_days")
FIELDS = [
    "name",
    "trigger",
    "days",
    "segment",
    "coupon_template",
    "points",
    "message_template",
    "multiplier",
    "multiplier_days",
    "max_per_member",
    "cap_days",
    "quiet_start",
    "quiet_end",
    "holdout_percent",
]


def reason_field(reason: str, name: str) -> str:
    return f"reason_{reason}_{name}"


class AutomationForm(forms.ModelForm):
    class Meta:
        model = Automation
        fields = FIELDS
        widgets = {
            "quiet_start": IsoTimeInput,
            "quiet_end": IsoTimeInput,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only some triggers have an N; the service says which need it.
        self.fields["days"].required = False
        # The templates' choices are read once and shared by the default actions and the three reason rows.
        coupons = [("", "—"), *((t.pk, t.name) for t in CouponTemplate.objects.order_by("name", "pk"))]
        messages = [("", "—"), *((t.pk, t.name) for t in MessageTemplate.objects.order_by("name", "pk"))]
        for name, choices in (("coupon_template", coupons), ("message_template", messages)):
            if name in self.fields:
                self.fields[name].choices = choices
                widget = self.fields[name].widget
                # The admin wraps the select (add and change links): the inner widget renders the options.
                getattr(widget, "widget", widget).choices = choices
        initial = (self.instance.actions_by_reason or {}) if self.instance.pk else {}
        for reason, label in ChurnReason.choices:
            current = initial.get(reason, {})
            self.fields[reason_field(reason, "coupon_template")] = forms.TypedChoiceField(
                label=_("coupon"), choices=coupons, required=False, coerce=int, empty_value=None
            )
            self.fields[reason_field(reason, "points")] = forms.IntegerField(
                label=_("points"), min_value=0, required=False, widget=forms.NumberInput(attrs={"class": "vSmall"})
            )
            self.fields[reason_field(reason, "message_template")] = forms.TypedChoiceField(
                label=pgettext_lazy("outbox", "message"), choices=messages, required=False, coerce=int, empty_value=None
            )
            self.fields[reason_field(reason, "multiplier")] = forms.ChoiceField(
                label=_("points multiplier"), choices=MULTIPLIER_CHOICES, required=False
            )
            self.fields[reason_field(reason, "multiplier_days")] = forms.IntegerField(
                label=_("for (days)"), min_value=0, required=False, widget=forms.NumberInput(attrs={"class": "vSmall"})
            )
            for name in REASON_FIELDS:
                # The table's row and column say what a select is; screen readers are told the same.
                field = self.fields[reason_field(reason, name)]
                field.widget.attrs["aria-label"] = f"{label} · {field.label}"
                value = current.get(name)
                if name == "multiplier" and value is not None:
                    value = format(float(value), "g")
                self.initial.setdefault(reason_field(reason, name), value)

    def reason_rows(self):
        """(reason label, [bound fields]) for the template's win-back table."""
        return [
            (label, [self[reason_field(reason, name)] for name in REASON_FIELDS])
            for reason, label in ChurnReason.choices
        ]

    def _by_reason(self) -> dict:
        built = {}
        for reason, _label in ChurnReason.choices:
            row = {name: self.cleaned_data.get(reason_field(reason, name)) for name in REASON_FIELDS}
            row = {name: value for name, value in row.items() if value not in (None, "", 0)}
            if row:
                built[reason] = row
        return built

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        by_reason = self._by_reason()
        try:
            cleaned = automation_validate(
                name=data.get("name", ""),
                trigger=data.get("trigger", ""),
                days=data.get("days"),
                segment=data.get("segment"),
                coupon_template=data.get("coupon_template"),
                points=data.get("points") or 0,
                message_template=data.get("message_template"),
                multiplier=data.get("multiplier") or 1,
                multiplier_days=data.get("multiplier_days") or 0,
                actions_by_reason=by_reason,
                max_per_member=data.get("max_per_member"),
                cap_days=data.get("cap_days"),
                quiet_start=data.get("quiet_start"),
                quiet_end=data.get("quiet_end"),
                holdout_percent=data.get("holdout_percent"),
            )
        except ValidationError as error:
            for key, errors in error.error_dict.items():
                self.add_error(self._field_of(key), errors)
            return data
        data["actions_by_reason"] = cleaned["actions_by_reason"]
        return data

    def _field_of(self, key: str) -> str | None:
        if key.startswith("actions_by_reason."):
            _prefix, reason, name = key.split(".", 2)
            field_name = reason_field(reason, name)
            return field_name if field_name in self.fields else None
        return key if key in self.fields else None
