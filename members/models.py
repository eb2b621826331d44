from django.conf import settings
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from members.codes import member_qr_payload
from members.phones import mask_phone, national_digits
from members.validators import validate_birthday, validate_e164_phone, validate_member_name
from stores.models import Store

NOTES_MAX_LENGTH = 2000


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.CheckConstraint(condition=~models.Q(name=""), name="tag_name_not_empty")]

    def __str__(self) -> str:
        return self.name


class Member(models.Model):
    class Gender(models.TextChoices):
        UNKNOWN = "unknown", _("Not given")
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")

    class Channel(models.TextChoices):
        STORE = "store", _("In store")
        ONLINE = "online", _("Online mall")
        MINI_PROGRAM = "mini_program", _("Mini-program")
        API = "api", _("Integration (API)")
        IMPORT = "import", _("Imported")

    class ConsentSource(models.TextChoices):
        NONE = "", _("No consent")
        TABLET = "tablet", _("Ticked on the store tablet")
        PAPER = "paper", _("Signed paper form")
        MINI_PROGRAM = "mini_program", _("Mini-program")
        ONLINE = "online", _("Online mall")
        IMPORT = "import", _("Imported from a previous system")
        API = "api", _("Integration (API)")

    code = models.CharField(_("member code"), max_length=16, unique=True, editable=False)
    phone = models.CharField(
        _("phone"),
        max_length=20,
        unique=True,
        validators=[validate_e164_phone],
        error_messages={"unique": _("A member with this phone number is already registered.")},
    )
    name = models.CharField(pgettext_lazy("person", "name"), max_length=50, validators=[validate_member_name])
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    birthday = models.DateField(_("birthday"), null=True, blank=True, validators=[validate_birthday])
    email = models.EmailField(_("email"), max_length=254, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True, validators=[ProhibitNullCharactersValidator()])
    home_store = models.ForeignKey(
        Store,
        verbose_name=_("home store"),
        on_delete=models.PROTECT,
        related_name="home_members",
        null=True,
        blank=True,
    )
    registration_store = models.ForeignKey(
        Store, verbose_name=_("registered at store"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registered by"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
    )
    registration_channel = models.CharField(
        _("registration channel"), max_length=16, choices=Channel.choices, default=Channel.STORE
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    referrer = models.ForeignKey(
        "self",
        verbose_name=_("referred by"),
        on_delete=models.SET_NULL,
        related_name="referrals",
        null=True,
        blank=True,
    )
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.ACTIVE)
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    consent_at = models.DateTimeField(_("consent given at"), null=True, blank=True)
    consent_source = models.CharField(
        _("consent source"), max_length=16, choices=ConsentSource.choices, default=ConsentSource.NONE, blank=True
    )
    notes = models.TextField(
        _("notes"),
        max_length=NOTES_MAX_LENGTH,
        blank=True,
        validators=[MaxLengthValidator(NOTES_MAX_LENGTH), ProhibitNullCharactersValidator()],
    )
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), related_name="members", blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-registered_at", "-id"]
        indexes = [
            # Prefix searches (LIKE '+86138%') need the pattern operator class on PostgreSQL unless the
            # database collation is C; the UNIQUE index on phone serves exact matches.
            models.Index(fields=["phone"], name="member_phone_prefix_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name"], name="member_name_prefix_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["-registered_at", "-id"], name="member_registered_idx"),
            models.Index(fields=["home_store", "-registered_at"], name="member_home_store_idx"),
            models.Index(fields=["status", "-registered_at"], name="member_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(phone__startswith="+"), name="member_phone_e164"),
            models.CheckConstraint(condition=~models.Q(name=""), name="member_name_not_empty"),
            models.CheckConstraint(condition=~models.Q(code=""), name="member_code_not_empty"),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("notes"), NOTES_MAX_LENGTH), name="member_notes_length"
            ),
            models.CheckConstraint(
                condition=models.Q(marketing_consent=False) | models.Q(consent_at__isnull=False),
                name="member_consent_has_time",
            ),
            models.CheckConstraint(condition=~models.Q(referrer=models.F("pk")), name="member_not_own_referrer"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def phone_digits(self) -> str:
        return national_digits(self.phone)

    @property
    def is_frozen(self) -> bool:
        return self.status == self.Status.FROZEN

    def qr_payload(self) -> str:
        return member_qr_payload(self.code)
