"""The back office's forms for the card configuration: each asks why it changes (loyalty's RuleChangeForm),
and the audit record keeps the answer (loyalty.admin.RuleChangeAuditMixin)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from config.widgets import IsoTimeInput
from loyalty.forms import RuleChangeForm
from servicecards.models import CardProduct, CardSettings, CommissionRule, Room, Service, ServiceStaff, WorkingHours

KIND_HELP = _(
    "Count card (次卡): whole visits, e.g. 10 washes. Lesson-hours card (课时卡): hours, halves allowed, "
    "e.g. 20 lesson hours. Period card (月卡/年卡): no uses, unlimited within the caps per day and week "
    "for its months of validity."
)


class ConstraintMessagesKept:
    """A constraint's own message stays on its field. A ModelForm swaps in the form field's message of the
    same code: a card's "invalid" uses (a period card with uses) would read "Enter a number."."""

    def _update_errors(self, errors):
        own = {str(c.violation_error_message) for c in self._meta.model._meta.constraints}
        kept = []
        for messages in getattr(errors, "error_dict", {}).values():
            for error in messages:
                if error.code and str(error.message) in own:
                    kept.append((error, error.code))
                    error.code = None
        try:
            super()._update_errors(errors)
        finally:
            for error, code in kept:
                error.code = code


class CardRuleForm(ConstraintMessagesKept, RuleChangeForm):
    pass


class ServiceForm(CardRuleForm):
    class Meta:
        model = Service
        fields = ["code", "name", "duration_minutes", "price", "next_visit_days", "is_active"]


class CardProductForm(CardRuleForm):
    class Meta:
        model = CardProduct
        fields = [
            "code",
            "name",
            "kind",
            "services",
            "uses",
            "bonus_uses",
            "cap_per_day",
            "cap_per_week",
            "price",
            "validity_months",
            "valid_from",
            "stores",
            "transferable",
            "is_active",
        ]
        help_texts = {
            "kind": KIND_HELP,
            "cap_per_day": _("Period cards only; empty for no cap."),
            "cap_per_week": _("Period cards only; empty for no cap."),
        }


class CardSettingsForm(CardRuleForm):
    class Meta:
        model = CardSettings
        fields = [
            "use_confirmation",
            "refunds_allowed",
            "refund_fee_percent",
            "freeze_max_times",
            "freeze_max_days",
            "no_show_uses",
            "free_cancel_hours",
            "expiry_warning_days",
            "low_uses_warning",
        ]


class ServiceStaffForm(CardRuleForm):
    class Meta:
        model = ServiceStaff
        fields = ["user", "job", "services", "is_bookable"]


class WorkingHoursForm(ConstraintMessagesKept, forms.ModelForm):
    class Meta:
        model = WorkingHours
        fields = ["store", "weekday", "starts", "ends"]
        widgets = {"starts": IsoTimeInput, "ends": IsoTimeInput}


class CommissionRuleForm(CardRuleForm):
    class Meta:
        model = CommissionRule
        fields = ["job", "service", "amount", "percent"]
        help_texts = {
            "percent": _(
                "Added to the amount. A rule for the job and the service comes before the job's rule for every service."
            ),
        }


class RoomForm(CardRuleForm):
    class Meta:
        model = Room
        fields = ["store", "name", "is_active"]
