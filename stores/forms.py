from django import forms
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.utils.translation import gettext_lazy as _

from stores.models import Store
from stores.roles import Role

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
