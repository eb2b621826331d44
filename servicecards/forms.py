"""Forms of the store tablet's card pages. They check and shape input; the services decide and write."""

from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from config.widgets import IsoDateInput
from loyalty.forms import TabletRequestForm
from loyalty.models import SaleTender
from servicecards.models import CardProduct, CardSettings, Service
from stores.names import staff_name

CONFIRM_BY = {
    CardSettings.Confirmation.CODE: ["code"],
    CardSettings.Confirmation.SIGNATURE: ["signature"],
    CardSettings.Confirmation.EITHER: ["signature", "code"],
}


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, user) -> str:
        return staff_name(user)


class CardSellForm(TabletRequestForm):
    product = forms.ModelChoiceField(label=_("Card"), queryset=CardProduct.objects.none(), widget=forms.RadioSelect)
    tender = forms.ChoiceField(
        label=_("Pay the rest with"),
        choices=[(k, v) for k, v in SaleTender.Kind.choices if k != SaleTender.Kind.STORED_VALUE],
        initial=SaleTender.Kind.CASH,
        widget=forms.RadioSelect,
    )
    stored_value = forms.DecimalField(
        label=_("From stored value (¥)"), required=False, min_value=Decimal("0"), decimal_places=2, max_digits=10
    )
    coupon_code = forms.CharField(label=_("Coupon code"), required=False, max_length=64)
    points = forms.IntegerField(label=_("Points to pay with"), required=False, min_value=0, max_value=2_000_000_000)

    def __init__(self, *args, products, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products
        self.fields["product"].empty_label = None

    def clean_stored_value(self):
        return self.cleaned_data.get("stored_value") or Decimal("0.00")

    def clean_points(self):
        return self.cleaned_data.get("points") or 0


class CardUseForm(TabletRequestForm):
    service = forms.ModelChoiceField(label=_("Service"), queryset=Service.objects.none(), widget=forms.RadioSelect)
    performed_by = StaffChoiceField(
        label=_("Performed by"), queryset=get_user_model().objects.none(), required=False, widget=forms.RadioSelect
    )
    uses = forms.DecimalField(
        label=_("Uses"), initial=Decimal(1), min_value=Decimal("0.01"), max_digits=7, decimal_places=2
    )
    note = forms.CharField(
        label=_("Service note"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("What was done, what the member should know next time."),
    )
    confirmation = forms.ChoiceField(
        label=_("The member confirms by"),
        required=False,
        choices=[("signature", _("Signature")), ("code", _("Code"))],
        widget=forms.RadioSelect,
    )
    confirmation_code = forms.CharField(label=_("Code the member received"), required=False, max_length=16)
    signature = forms.CharField(required=False, max_length=300_000, strip=False, widget=forms.HiddenInput)

    def __init__(self, *args, services, staff, confirm_by: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["service"].queryset = services
        self.fields["service"].empty_label = None
        self.fields["performed_by"].queryset = staff
        self.fields["performed_by"].empty_label = None
        if confirm_by:
            self.fields["confirmation"].choices = [c for c in self.fields["confirmation"].choices if c[0] in confirm_by]
            self.fields["confirmation"].initial = confirm_by[0]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255)


class NoFieldsForm(forms.Form):
    pass


class ExtendForm(ReasonForm):
    until = forms.DateField(label=_("Valid until"), widget=IsoDateInput)

    field_order = ["until", "reason"]


class TransferForm(ReasonForm):
    to_member = forms.CharField(
        label=_("To the member (member code or phone)"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )

    field_order = ["to_member", "reason"]


class CardRefundForm(TabletRequestForm):
    reason = forms.CharField(label=_("Reason"), max_length=255)
    approver_username = forms.CharField(label=_("Manager's username"), required=False, max_length=150)
    approver_password = forms.CharField(
        label=_("Manager's password"), required=False, max_length=128, strip=False, widget=forms.PasswordInput
    )


class ReverseUseForm(TabletRequestForm):
    reason = forms.CharField(label=_("Reason"), max_length=255)
