from django import forms
from django.utils.translation import gettext_lazy as _

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
        widgets = {"birthday": forms.DateInput(attrs={"type": "date"})}

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
