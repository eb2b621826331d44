from axes.models import AccessAttempt
from django.conf import settings
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils.translation import gettext_lazy as _
from knox.models import AbstractAuthToken

from config.constraints import ConstraintErrorsMixin
from stores.names import staff_name


class Region(ConstraintErrorsMixin, models.Model):
    """A group of stores (华东区, 华南区 …) used for scoping reports and rules."""

    code = models.CharField(
        _("code"),
        max_length=32,
        unique=True,
        error_messages={"unique": _("Another region has this code.")},
    )
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(code=""),
                name="region_code_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the region a code."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="region_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the region a name."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Store(ConstraintErrorsMixin, models.Model):
    code = models.CharField(
        _("store code"),
        max_length=32,
        unique=True,
        help_text=_("Short stable code used by the API, imports and the tablet, e.g. SH001."),
        error_messages={"unique": _("Another store has this code.")},
    )
    name = models.CharField(_("name"), max_length=100)
    region = models.ForeignKey(
        Region, verbose_name=_("region"), on_delete=models.PROTECT, related_name="stores", null=True, blank=True
    )
    address = models.CharField(_("address"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(code=""),
                name="store_code_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the store a code, e.g. SH001."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="store_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the store a name."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class StaffProfile(ConstraintErrorsMixin, models.Model):
    """What a login is in the chain: which stores it serves. Its role is its Django group (stores.roles)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="staff_profile"
    )
    stores = models.ManyToManyField(Store, verbose_name=_("stores"), related_name="staff", blank=True)
    employee_no = models.CharField(_("employee number"), max_length=32, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["employee_no"],
                condition=~models.Q(employee_no=""),
                name="staff_employee_no_unique",
                violation_error_code="unique",
                violation_error_message=_("Another member of staff has this employee number."),
            ),
        ]

    def __str__(self) -> str:
        return staff_name(self.user)


class AuditEntry(ConstraintErrorsMixin, models.Model):
    """Who did what, when and why: written in the same transaction as the sensitive change itself."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    action = models.CharField(_("action"), max_length=64, db_index=True)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    target_type = models.CharField(_("target type"), max_length=64, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit trail")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(action=""),
                name="audit_action_not_empty",
                violation_error_code="required",
                violation_error_message=_("An audit record says what was done."),
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("reason"), 2000),
                name="audit_reason_length",
                violation_error_code="max_length",
                violation_error_message=_("A reason has at most 2,000 characters."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


class IntegrationToken(ConstraintErrorsMixin, AbstractAuthToken):
    """An API token of an integration (a POS, the online mall, a mini-program), through django-rest-knox.

    Only the SHA-512 digest of the token is kept (`digest`), with its first characters (`token_key`) to
    find it and to tell tokens apart; HQ sees the token once, when it is made. A token expires and can be
    revoked on its own; both keep the row, so the account stays known as an integration's."""

    # Knox's digest is its primary key; an id keeps it out of the back office's addresses.
    id = models.BigAutoField(primary_key=True)
    digest = models.CharField(_("digest"), max_length=128, unique=True)
    token_key = models.CharField(_("token starts with"), max_length=25, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("integration account"),
        on_delete=models.PROTECT,
        related_name="auth_token_set",
    )
    name = models.CharField(
        _("integration"), max_length=100, help_text=_("What uses this token, e.g. the online mall.")
    )
    created = models.DateTimeField(_("created at"), auto_now_add=True)
    expiry = models.DateTimeField(_("expires at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("integration token")
        verbose_name_plural = _("integration tokens")
        ordering = ["-created", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="integration_token_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Name the integration that uses this token."),
            ),
            models.CheckConstraint(
                condition=models.Q(expiry__gt=models.F("created")),
                name="integration_token_expiry",
                violation_error_code="invalid",
                violation_error_message=_("A token must expire after it was made."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_key}…)"


class LoginLockout(ConstraintErrorsMixin, AccessAttempt):
    """django-axes' records of failed logins, for HQ's page of locked accounts and addresses."""

    class Meta:
        proxy = True
        verbose_name = _("locked login")
        verbose_name_plural = _("locked logins")
