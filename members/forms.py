from django import forms
from django.utils.translation import gettext_lazy as _

from config.widgets import IsoDateInput
from members.erasure import StoredValuePolicy
from members.models import Member
from members.phones import normalize_phone
from members.selectors import member_with_phone


class MemberAdminForm(forms.ModelForm):
    phone = forms.CharField(
        label=_("phone"),
        max_length=32,
        help_text=_("Any format: 138 1234 5678, +86 138-1234-5678 …; stored as +8613812345678."),
    )

    class Meta:
        model = Member
        fields = [
            "phone",
            "name",
            "gender",
            "birthday",
            "email",
            "address",
            "home_store",
            "referrer",
            "marketing_consent",
            "notes",
            "tags",
        ]
        widgets = {"birthday": IsoDateInput}

    def clean_phone(self) -> str:
        # Normalised before the unique check, so +86 138… and 138… are the same number.
        phone = normalize_phone(self.cleaned_data["phone"])
        existing = member_with_phone(phone, exclude_pk=self.instance.pk)
        if existing is not None:
            raise forms.ValidationError(
                _("This phone number is already registered to member %(code)s."),
                code="phone_taken",
                params={"code": existing.code},
            )
        return phone

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()

    def clean_referrer(self):
        referrer = self.cleaned_data.get("referrer")
        if referrer is not None and self.instance.pk is not None and referrer.pk == self.instance.pk:
            raise forms.ValidationError(_("A member cannot refer themselves."), code="self_referral")
        return referrer


class TabletRegisterForm(forms.Form):
    """Registering at the till: what a cashier can ask in ten seconds. The service validates again."""

    phone = forms.CharField(
        label=_("Phone"), max_length=32, widget=forms.TextInput(attrs={"inputmode": "tel", "autofocus": True})
    )
    name = forms.CharField(label=_("Member's name"), max_length=64)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=IsoDateInput)
    gender = forms.ChoiceField(
        label=_("Gender"), choices=Member.Gender.choices, initial=Member.Gender.UNKNOWN, widget=forms.RadioSelect
    )
    referrer = forms.CharField(
        label=_("Referred by"),
        required=False,
        max_length=64,
        help_text=_("The referrer's member code or phone."),
    )
    terms = forms.BooleanField(
        label=_("The customer agrees to the membership terms and the privacy policy"),
        error_messages={"required": _("The customer must agree to the terms to become a member.")},
    )
    marketing_consent = forms.BooleanField(label=_("…and to receive offers by SMS"), required=False)

    def clean_phone(self) -> str:
        phone = normalize_phone(self.cleaned_data["phone"])
        self.existing_member = member_with_phone(phone)
        if self.existing_member is not None:
            raise forms.ValidationError(
                _("This phone number is already registered to member %(code)s."),
                code="phone_taken",
                params={"code": self.existing_member.code},
            )
        return phone


class MemberErasureForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("E.g. the member's written request of 2026-03-01, handled by …; kept in the audit trail."),
    )
    stored_value = forms.ChoiceField(
        label=_("Stored value"), choices=StoredValuePolicy.choices, initial=StoredValuePolicy.PAY_BACK
    )
    confirm = forms.BooleanField(
        label=_("I understand that the member's personal data will be erased and cannot be recovered."),
    )
