from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    SetUnusablePasswordMixin,
    UserChangeForm,
    UserCreationForm,
)
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from stores.models import Store
from stores.permissions import staff_can
from stores.roles import Action, Role

ROLE_CHOICES = [("", _("No role (cannot sign in to work)")), *Role.choices]


class StaffFieldsMixin(forms.Form):
    role = forms.ChoiceField(label=_("role"), choices=ROLE_CHOICES, required=False)
    stores = forms.ModelMultipleChoiceField(
        label=_("stores"),
        queryset=Store.objects.filter(is_active=True),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Store managers and cashiers work only at these stores."),
    )
    role_reason = forms.CharField(
        label=_("reason for the change"), required=False, max_length=500, widget=forms.TextInput
    )

    def clean(self):
        cleaned = super().clean()
        role = cleaned.get("role")
        if role in (Role.STORE_MANAGER, Role.CASHIER) and not cleaned.get("stores"):
            self.add_error("stores", _("Store staff need at least one store."))
        return cleaned


class StaffCreationForm(StaffFieldsMixin, UserCreationForm):
    pass


class StaffChangeForm(StaffFieldsMixin, UserChangeForm):
    pass


def back_office_is_for_hq() -> str:
    """What store staff are told at the back office's door, with the way to the tablet (HTML)."""
    return format_html(
        '{} <a href="{}">{}</a>',
        gettext("The back office is for HQ staff. Store managers and cashiers work on the store tablet."),
        reverse("tablet:find"),
        gettext("Open the store tablet"),
    )


class StaffPasswordChangeForm(AdminPasswordChangeForm):
    # Django builds this help text by adding a str to a lazy translation at import time, which fixes it in
    # the language active then (Chinese, the default): an English reader saw it in Chinese.
    usable_password_help_text = format_lazy(
        '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}</li></ul>',
        SetUnusablePasswordMixin.usable_password_help_text,
        _("If disabled, the current password for this user will be lost."),
    )


class BackOfficeAuthenticationForm(AdminAuthenticationForm):
    """The back office's login. Store staff who typed their own password right are told where they work,
    not that it is wrong; a wrong password gets Django's answer, whoever the login belongs to."""

    def confirm_login_allowed(self, user):
        if user.is_active and not user.is_staff and staff_can(user, Action.USE_TABLET):
            raise ValidationError(back_office_is_for_hq(), code="store_staff")
        super().confirm_login_allowed(user)


class IntegrationTokenForm(forms.Form):
    user = forms.ModelChoiceField(
        label=_("integration account"),
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        help_text=_(
            "The login the integration acts as; give each integration a login of its own. What it records "
            "counts as no one's performance."
        ),
    )
    name = forms.CharField(
        label=_("integration"), max_length=100, help_text=_("What uses this token, e.g. the online mall.")
    )
    days = forms.IntegerField(
        label=_("valid for (days)"), min_value=1, max_value=366, initial=lambda: settings.INTEGRATION_TOKEN_DAYS
    )


class UnlockForm(forms.Form):
    kind = forms.ChoiceField(choices=[("account", "account"), ("address", "address")], widget=forms.HiddenInput)
    value = forms.CharField(max_length=255, widget=forms.HiddenInput)
    reason = forms.CharField(label=_("reason"), max_length=500, required=False)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "address":
            try:
                validate_ipv46_address(cleaned.get("value", ""))
            except ValidationError as error:
                self.add_error("value", error)
        return cleaned
