import uuid

from django.conf import settings
from django.core.validators import MaxLengthValidator, ProhibitNullCharactersValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from config.constraints import ConstraintErrorsMixin
from members.codes import member_qr_payload
from members.fields import EncryptedCharField, EncryptedDateField, EncryptedEmailField, EncryptedPhoneField
from members.phones import mask_phone, national_digits
from members.validators import validate_birthday, validate_e164_phone, validate_member_name
from stores.models import Store

NOTES_MAX_LENGTH = 2000


def blind_index_field() -> models.UUIDField:
    """A column of blind indexes (members.crypto.blind_index: 128 bits as 32 hex digits): PostgreSQL's
    16-byte uuid, compared byte by byte, rather than 33 bytes of text compared by the database's
    collation; a million members' rows and their seven indexes are the smaller for it. SQLite keeps the
    32 hex digits as they are."""
    return models.UUIDField(null=True, blank=True, editable=False)


NAME_PREFIX_INDEXES = ("name_prefix1_index", "name_prefix2_index", "name_prefix3_index")
# The start of a phone is searched by 3 to 10 of its national digits (the till and the admin); two
# prefix lengths serve all of them (members.fields.EncryptedPhoneField.search_q): every blind index costs
# each registration and each imported row an HMAC and an index entry, and tells an attacker with the
# database which members share that prefix, so there are as few as the searches need.
PHONE_PREFIX_LENGTHS = (4, 7)
PHONE_PREFIX_INDEXES = tuple(f"phone_prefix{n}_index" for n in PHONE_PREFIX_LENGTHS)
PHONE_INDEXES = (*PHONE_PREFIX_INDEXES, "phone_index")


class Tag(ConstraintErrorsMixin, models.Model):
    name = models.CharField(
        _("name"), max_length=32, unique=True, error_messages={"unique": _("There is a tag of this name already.")}
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(name=""),
                name="tag_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the tag a name."),
            )
        ]

    def __str__(self) -> str:
        return self.name


class Member(ConstraintErrorsMixin, models.Model):
    class Gender(models.TextChoices):
        UNKNOWN = "unknown", _("Not given")
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FROZEN = "frozen", _("Frozen")
        # Personal data wiped (members.erasure); the row stays so ledgers and sales keep their member.
        ERASED = "erased", _("Erased")

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
        OPT_OUT = "opt_out", _("Withdrawn by a reply or an unsubscribe link")
        ERASURE = "erasure", _("Withdrawn when the member was erased")

    # Unique by a constraint, not unique=True: codes are only ever looked up whole, and unique=True
    # would add a second, pattern-ops index on PostgreSQL that every insert pays for.
    code = models.CharField(_("member code"), max_length=16, editable=False)
    # NULL once the member is erased (and so are its indexes). Encrypted; found by blind indexes
    # (members.fields.EncryptedPhoneField): the whole phone's, UNIQUE, and those of its first 4 and 7
    # national digits for prefix searches. Always E.164: every writer normalizes it (members.phones) and
    # validate_e164_phone checks the plain value (the database cannot read it to check it starts with "+").
    phone = EncryptedPhoneField(
        _("phone"),
        max_length=20,
        null=True,
        validators=[validate_e164_phone],
        purpose="member.phone",
        prefix_indexes=PHONE_PREFIX_INDEXES,
        prefix_lengths=PHONE_PREFIX_LENGTHS,
        whole_index="phone_index",
    )
    phone_index = blind_index_field()
    phone_prefix4_index = blind_index_field()
    phone_prefix7_index = blind_index_field()
    # Encrypted; searched by the start of the name through blind indexes of its first 1, 2 and 3
    # characters (a Chinese surname, surname and given name) and of the whole name (members.fields).
    name = EncryptedCharField(
        pgettext_lazy("person", "name"),
        max_length=50,
        validators=[validate_member_name],
        purpose="member.name",
        prefix_indexes=NAME_PREFIX_INDEXES,
        whole_index="name_whole_index",
    )
    name_prefix1_index = blind_index_field()
    name_prefix2_index = blind_index_field()
    name_prefix3_index = blind_index_field()
    name_whole_index = blind_index_field()
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, default=Gender.UNKNOWN)
    # Encrypted at rest (members.fields, README "Keys of the member data"). The birthday's month and day
    # are kept in clear beside it: birthday automations, segments and the birthday month's points select
    # on them in SQL, and without the year they identify no one.
    birthday = EncryptedDateField(
        _("birthday"),
        null=True,
        blank=True,
        validators=[validate_birthday],
        purpose="member.birthday",
        clear_parts=("birth_month", "birth_day"),
    )
    birth_month = models.PositiveSmallIntegerField(_("birth month"), null=True, blank=True, editable=False)
    birth_day = models.PositiveSmallIntegerField(_("birth day"), null=True, blank=True, editable=False)
    email = EncryptedEmailField(_("email"), max_length=254, blank=True, purpose="member.email")
    address = EncryptedCharField(
        _("address"),
        max_length=255,
        blank=True,
        validators=[ProhibitNullCharactersValidator()],
        purpose="member.address",
    )
    home_store = models.ForeignKey(
        Store,
        verbose_name=_("home store"),
        on_delete=models.PROTECT,
        related_name="home_members",
        null=True,
        blank=True,
        db_index=False,  # member_home_store_idx starts with it
    )
    registration_store = models.ForeignKey(
        Store,
        verbose_name=_("registered at store"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        db_index=False,  # member_registration_store_idx, partial
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
        db_index=False,  # member_referrer_idx, partial
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
    erased_at = models.DateTimeField(_("erased at"), null=True, blank=True, editable=False)

    constraint_error_fields = {
        "member_consent_has_time": "marketing_consent",
        "member_not_own_referrer": "referrer",
        "member_phone_unique": "phone",
    }

    class Meta:
        verbose_name = _("member")
        verbose_name_plural = _("members")
        ordering = ["-registered_at", "-id"]
        # Every index is paid for by every registration and by each row of a million-member import,
        # so there are no duplicates, and indexes over columns most members leave empty (referrer,
        # registration store) or share (status "active") are partial.
        indexes = [
            # A phone or name search is an equality on one of their blind indexes (the whole phone's is
            # the UNIQUE constraint's index).
            *(models.Index(fields=[column], name=f"member_{column}") for column in PHONE_PREFIX_INDEXES),
            *(models.Index(fields=[column], name=f"member_{column}") for column in NAME_PREFIX_INDEXES),
            models.Index(fields=["name_whole_index"], name="member_name_whole_index"),
            models.Index(fields=["-registered_at", "-id"], name="member_registered_idx"),
            models.Index(fields=["home_store", "-registered_at"], name="member_home_store_idx"),
            models.Index(
                fields=["status", "-registered_at"],
                name="member_status_idx",
                condition=~models.Q(status="active"),
            ),
            models.Index(fields=["referrer"], name="member_referrer_idx", condition=models.Q(referrer__isnull=False)),
            models.Index(
                fields=["registration_store"],
                name="member_registration_store_idx",
                condition=models.Q(registration_store__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["code"],
                name="member_code_unique",
                violation_error_code="unique",
                violation_error_message=_("Another member already has this member code."),
            ),
            # NULL once the member is erased: the phone is free for a new registration, and UNIQUE
            # ignores NULLs.
            models.UniqueConstraint(
                fields=["phone_index"],
                name="member_phone_unique",
                violation_error_code="unique",
                violation_error_message=_("A member with this phone number is already registered."),
            ),
            models.CheckConstraint(
                condition=~models.Q(name="") | models.Q(status="erased"),
                name="member_name_not_empty",
                violation_error_code="required",
                violation_error_message=_("Give the member's name."),
            ),
            models.CheckConstraint(
                condition=~models.Q(code=""),
                name="member_code_not_empty",
                violation_error_code="required",
                violation_error_message=_("A member needs a member code."),
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("notes"), NOTES_MAX_LENGTH),
                name="member_notes_length",
                violation_error_code="max_length",
                violation_error_message=_("Notes have at most 2,000 characters."),
            ),
            models.CheckConstraint(
                condition=models.Q(marketing_consent=False) | models.Q(consent_at__isnull=False),
                name="member_consent_has_time",
                violation_error_code="consent_time_required",
                violation_error_message=_("Marketing consent needs the time it was given."),
            ),
            # Set-based writers (the import) set them in SQL; this keeps them from disagreeing with the date.
            models.CheckConstraint(
                condition=models.Q(birthday__isnull=True, birth_month__isnull=True, birth_day__isnull=True)
                | models.Q(birthday__isnull=False, birth_month__range=(1, 12), birth_day__range=(1, 31)),
                name="member_birth_month_day",
                violation_error_code="invalid_birthday",
                violation_error_message=_("The birthday's month and day are missing."),
            ),
            models.CheckConstraint(
                condition=~models.Q(referrer=models.F("pk")),
                name="member_not_own_referrer",
                violation_error_code="self_referral",
                violation_error_message=_("A member cannot refer themselves."),
            ),
            models.CheckConstraint(
                condition=(models.Q(status="erased") & models.Q(erased_at__isnull=False) & models.Q(phone__isnull=True))
                | (~models.Q(status="erased") & models.Q(erased_at__isnull=True) & models.Q(phone__isnull=False)),
                name="member_erased_iff_no_phone",
                violation_error_code="erased",
                violation_error_message=_("Only an erased member has no phone, and an erased member has none."),
            ),
            # Writers outside the ORM (the import's upsert) set the index beside the ciphertext: a phone
            # without its index could be registered twice and found by no one.
            models.CheckConstraint(
                condition=models.Q(phone__isnull=True, phone_index__isnull=True)
                | models.Q(phone__isnull=False, phone_index__isnull=False),
                name="member_phone_has_its_index",
                violation_error_code="phone_index",
                violation_error_message=_("A member's phone is stored with its search index, or neither is."),
            ),
        ]

    def __str__(self) -> str:
        if self.is_erased:
            return str(_("Erased member (%(code)s)") % {"code": self.code})
        return f"{self.name} ({self.code})"

    def save(self, *args, update_fields=None, **kwargs):
        # The clear month and day are written with the birthday (EncryptedDateField.pre_save sets them).
        if update_fields is not None and "birthday" in update_fields:
            update_fields = {*update_fields, "birth_month", "birth_day"}
        if update_fields is not None and "name" in update_fields:
            update_fields = {*update_fields, *NAME_PREFIX_INDEXES, "name_whole_index"}
        if update_fields is not None and "phone" in update_fields:
            update_fields = {*update_fields, *PHONE_INDEXES}
        super().save(*args, update_fields=update_fields, **kwargs)

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def phone_digits(self) -> str:
        return national_digits(self.phone)

    @property
    def is_frozen(self) -> bool:
        # An erased member can neither earn nor spend: every service that refuses a frozen member
        # refuses them too, without learning about erasure.
        return self.status in (self.Status.FROZEN, self.Status.ERASED)

    @property
    def is_erased(self) -> bool:
        return self.status == self.Status.ERASED

    def qr_payload(self) -> str:
        return member_qr_payload(self.code)


def _import_upload_path(job: "ImportJob", filename: str) -> str:
    # The name people gave the file is kept on the job; the stored name only needs to be unique.
    return f"imports/{job.kind}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.csv"


class ImportKind(models.TextChoices):
    """What a file holds. Each kind's import is registered by the app that owns it
    (members.imports.jobs.register_import_kind): members here, purchase history by loyalty."""

    MEMBERS = "members", _("Members")
    SALES = "sales", _("Purchase history")


class ImportMode(models.TextChoices):
    ALL_OR_NOTHING = "all_or_nothing", _("All or nothing: one bad row, nothing is written")
    SKIP_BAD_ROWS = "skip_bad_rows", _("Skip bad rows: write the good rows, report the others")


class ImportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    REJECTED = "rejected", _("Not written: bad rows")
    REFUSED = "refused", _("File refused")
    FAILED = "failed", _("Failed")


class ImportJob(ConstraintErrorsMixin, models.Model):
    """One upload to the members import: the file, how to import it, and how it went.

    Live progress is in the cache while the import's transaction is open (members.imports.jobs); the
    outcome lands here when it ends.
    """

    Kind = ImportKind
    Mode = ImportMode
    Status = ImportStatus

    FINISHED = (Status.DONE, Status.REJECTED, Status.REFUSED, Status.FAILED)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("file of"), max_length=16, choices=Kind.choices, default=Kind.MEMBERS)
    options = models.JSONField(
        _("options"), default=dict, blank=True, help_text=_("The import's own options, e.g. award points.")
    )
    file = models.FileField(_("file"), upload_to=_import_upload_path, max_length=255)
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(_("size (bytes)"), default=0)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.ALL_OR_NOTHING)
    dry_run = models.BooleanField(_("dry run"), default=False, help_text=_("Check and count, write nothing."))
    language = models.CharField(_("language"), max_length=16, default="zh-hans")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(_("message"), blank=True, help_text=_("Why the file was refused or the import failed."))
    encoding = models.CharField(_("encoding"), max_length=16, blank=True)
    rows = models.PositiveIntegerField(_("rows"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    written = models.BooleanField(_("written"), default=False)
    extra = models.JSONField(_("other figures"), default=list, blank=True)
    error_report = models.FileField(_("error report"), upload_to="imports/errors/", max_length=255, blank=True)
    created_at = models.DateTimeField(_("uploaded at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The lease of the run working on it: which run, until when, its last sign of life (members.job_leases).
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Runs started, cut off ones included.")
    )
    worker = models.CharField(
        _("worker"), max_length=200, blank=True, help_text=_("The host and process of the last run.")
    )
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    lease_until = models.DateTimeField(_("held until"), null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportStatus.values),
                name="import_job_status_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown import status."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ImportKind.values),
                name="import_job_kind_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown kind of import file."),
            ),
            models.CheckConstraint(
                condition=models.Q(mode__in=ImportMode.values),
                name="import_job_mode_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown import mode."),
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True) | models.Q(started_at__isnull=False),
                name="import_job_finished_after_start",
                violation_error_code="invalid_range",
                violation_error_message=_("An import cannot finish without having started."),
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ImportStatus.RUNNING) | models.Q(lease_until__isnull=False),
                name="import_job_running_has_a_lease",
                violation_error_code="lease_required",
                violation_error_message=_("A running job holds a lease."),
            ),
        ]
        # What the sweeper reads every minute: the jobs not finished.
        indexes = [
            models.Index(
                fields=["lease_until"],
                name="import_job_lease_idx",
                condition=models.Q(status__in=[ImportStatus.QUEUED, ImportStatus.RUNNING]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


def _export_upload_path(job: "ExportJob", filename: str) -> str:
    # The name the download gets is kept on the job (file_name); the stored name only needs to be
    # unique and to say nothing about what the file holds.
    return f"exports/{job.kind}/{timezone.now():%Y/%m}/{uuid.uuid4().hex}.{job.fmt}"


class ExportKind(models.TextChoices):
    """What an export holds. Each kind is rebuilt in the worker by the app that owns it
    (members.export_jobs.register_export_kind): members here, the two ledgers by loyalty."""

    MEMBERS = "members", _("Members")
    POINTS_LEDGER = "points_ledger", _("Points ledger")
    WALLET_LEDGER = "wallet_ledger", _("Stored-value ledger")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"


class ExportHeaders(models.TextChoices):
    ZH = "zh", "中文"
    EN = "en", "English"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", _("Waiting to start")
    RUNNING = "running", _("Being written")
    DONE = "done", _("Ready to download")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Deleted (older than the retention period)")


class ExportJob(ConstraintErrorsMixin, models.Model):
    """One export from the back office too large to write inside the web request: what was asked, by
    whom, and the file once a worker has written it (members.export_jobs).

    The export was checked, counted and audited when it was asked for (its audit row is
    `audit_entry`); the job keeps what a worker needs to write the same rows again: for members how they
    were selected (`selection`), for the ledgers the days and the store. Live progress is in the cache
    while it is written; the outcome lands here.
    """

    Kind = ExportKind
    Format = ExportFormat
    Headers = ExportHeaders
    Status = ExportStatus

    FINISHED = (Status.DONE, Status.FAILED, Status.EXPIRED)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("asked for by"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("export of"), max_length=16, choices=Kind.choices)
    fmt = models.CharField(_("format"), max_length=8, choices=Format.choices)
    headers = models.CharField(_("headers"), max_length=2, choices=Headers.choices)
    columns = models.JSONField(_("columns"), default=list, blank=True)
    full_phones = models.BooleanField(
        _("full phones"), default=False, help_text=_("Whether the role of whoever asked may see full phone numbers.")
    )
    # Members: how they were selected, as the parameters themselves (JSON, never a pickled object), e.g.
    # {"source": "member_list", "query": "status__exact=active&q=138", "ids": null} (members.export_jobs).
    selection = models.JSONField(_("members filter"), null=True, blank=True, editable=False)
    filters = models.JSONField(
        _("filters"), default=list, blank=True, help_text=_("The list's filters as the page showed them.")
    )
    # The ledgers: local days, both included, and optionally one store.
    start = models.DateField(_("first day"), null=True, blank=True)
    end = models.DateField(_("last day"), null=True, blank=True)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    language = models.CharField(_("language"), max_length=16, default="zh-hans")
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField(_("message"), blank=True, help_text=_("Why the export failed."))
    total_rows = models.PositiveIntegerField(_("rows counted"), default=0)
    rows_written = models.PositiveIntegerField(_("rows written"), default=0)
    file = models.FileField(_("file"), upload_to=_export_upload_path, max_length=255, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    file_size = models.BigIntegerField(_("size (bytes)"), default=0)
    audit_entry = models.ForeignKey(
        "stores.AuditEntry",
        verbose_name=_("audit entry"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    created_at = models.DateTimeField(_("asked for at"), auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # The lease of the run working on it: which run, until when, its last sign of life (members.job_leases).
    attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=0, help_text=_("Runs started, cut off ones included.")
    )
    worker = models.CharField(
        _("worker"), max_length=200, blank=True, help_text=_("The host and process of the last run.")
    )
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True, blank=True)
    lease_until = models.DateTimeField(_("held until"), null=True, blank=True)

    class Meta:
        verbose_name = _("export")
        verbose_name_plural = _("exports")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ExportStatus.values),
                name="export_job_status_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown export status."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ExportKind.values),
                name="export_job_kind_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown kind of export."),
            ),
            models.CheckConstraint(
                condition=models.Q(fmt__in=ExportFormat.values),
                name="export_job_format_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown file format: choose CSV or XLSX."),
            ),
            models.CheckConstraint(
                condition=models.Q(headers__in=ExportHeaders.values),
                name="export_job_headers_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("Unknown header language: choose Chinese or English."),
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True) | models.Q(started_at__isnull=False),
                name="export_job_finished_after_start",
                violation_error_code="invalid_range",
                violation_error_message=_("An export cannot finish without having started."),
            ),
            models.CheckConstraint(
                condition=models.Q(finished_at__isnull=True) | models.Q(finished_at__gte=models.F("started_at")),
                name="export_job_finished_not_before_start",
                violation_error_code="invalid_range",
                violation_error_message=_("An export cannot finish before it started."),
            ),
            # A job that says "ready" has its file.
            models.CheckConstraint(
                condition=~models.Q(status=ExportStatus.DONE) | ~models.Q(file=""),
                name="export_job_done_has_file",
                violation_error_code="file_required",
                violation_error_message=_("A finished export has its file."),
            ),
            # What a worker needs to write the rows again.
            models.CheckConstraint(
                condition=~models.Q(kind=ExportKind.MEMBERS) | models.Q(selection__isnull=False),
                name="export_job_members_have_a_filter",
                violation_error_code="filter_required",
                violation_error_message=_("A members export keeps the filter of its list."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind=ExportKind.MEMBERS)
                | models.Q(start__isnull=False, end__isnull=False, start__lte=models.F("end")),
                name="export_job_ledgers_have_days",
                violation_error_code="invalid_range",
                violation_error_message=_(
                    "A ledger export needs its first and last day, the first not after the last."
                ),
            ),
            models.CheckConstraint(
                condition=~models.Q(status=ExportStatus.RUNNING) | models.Q(lease_until__isnull=False),
                name="export_job_running_has_a_lease",
                violation_error_code="lease_required",
                violation_error_message=_("A running job holds a lease."),
            ),
        ]
        indexes = [
            models.Index(
                fields=["lease_until"],
                name="export_job_lease_idx",
                condition=models.Q(status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]),
            )
        ]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def description(self) -> str:
        """What was exported, in a line: the list's filters, or the ledger's days and store."""
        if self.kind == ExportKind.MEMBERS:
            return "; ".join(f"{title}: {value}" for title, value in self.filters) or str(_("every member"))
        days = f"{self.start:%Y-%m-%d} – {self.end:%Y-%m-%d}" if self.start and self.end else ""
        return f"{days} · {self.store.code}" if self.store_id else days


class ConsentRecord(ConstraintErrorsMixin, models.Model):
    """One giving or withdrawal of a member's marketing consent: when, where (source, store), by whom (the
    staff member or the integration's account) and under which wording (`text_version`). Append-only; the
    member's marketing_consent, consent_at and consent_source are the latest record's (members.consent)."""

    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.CASCADE,
        related_name="consent_records",
        db_index=False,  # consent_record_member_idx starts with it
    )
    given = models.BooleanField(_("consent given"), help_text=_("Unticked: consent withdrawn."))
    at = models.DateTimeField(_("when"), default=timezone.now)
    source = models.CharField(_("where"), max_length=16, choices=Member.ConsentSource.choices)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff or integration"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    text_version = models.CharField(
        _("consent text version"),
        max_length=32,
        blank=True,
        help_text=_("The wording the member agreed to (MARKETING_CONSENT_TEXT_VERSION); empty if not known."),
    )

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent history")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["member", "-at"], name="consent_record_member_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(source=""),
                name="consent_record_has_source",
                violation_error_code="required",
                violation_error_message=_("A consent record says where consent was given or withdrawn."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.member_id} {'+' if self.given else '-'} {self.at:%Y-%m-%d}"


class MemberAccess(ConstraintErrorsMixin, models.Model):
    """One member seen by one staff login (DESIGN §10, "who looked at which member"): found by a search,
    opened (tablet card, 360 page, API summary), or shown with the full phone in a list. Append-only.

    Written for volume: tills look members up thousands of times a day, so a row is a few numbers (about
    80 bytes), one row per member a request showed, all of a request's rows in one INSERT
    (members.access). It holds nothing that identifies the member by itself: the member's id, and for a
    search what it was by (phone, code, name …) and a keyed fingerprint of what was typed, never the text.

    The foreign keys have no database constraint, so rows cost no lookup when written and a member's
    erasure leaves the log as it is; on PostgreSQL the table is partitioned by month of `created_at`
    (migration 0007), so retention drops whole months (members.access.member_access_maintain).
    """

    class Kind(models.IntegerChoices):
        LOOKUP = 1, _("found by a search")
        VIEW = 2, _("opened")
        SHOWN = 3, _("full phone shown")

    class Channel(models.IntegerChoices):
        TABLET = 1, _("store tablet")
        API = 2, _("API")
        BACK_OFFICE = 3, _("back office")

    class SearchedBy(models.IntegerChoices):
        NOTHING = 0, "—"
        PHONE = 1, _("full phone")
        PHONE_PREFIX = 2, _("start of a phone")
        CODE = 3, _("member code")
        QR = 4, _("QR code")
        NAME = 5, _("start of a name")

    created_at = models.DateTimeField(_("when"), default=timezone.now)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # member_access_staff_idx starts with it
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("store"),
        on_delete=models.DO_NOTHING,
        related_name="+",
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,
    )
    member = models.ForeignKey(
        Member,
        verbose_name=_("member"),
        on_delete=models.DO_NOTHING,
        related_name="+",
        null=True,
        blank=True,
        db_constraint=False,
        db_index=False,  # member_access_member_idx starts with it
        help_text=_("Empty: the search found no one."),
    )
    kind = models.PositiveSmallIntegerField(_("access"), choices=Kind.choices)
    channel = models.PositiveSmallIntegerField(_("where"), choices=Channel.choices)
    searched_by = models.PositiveSmallIntegerField(
        _("searched by"), choices=SearchedBy.choices, default=SearchedBy.NOTHING
    )
    query_hash = models.BigIntegerField(
        _("search fingerprint"),
        null=True,
        blank=True,
        help_text=_("A keyed hash of what was typed: the same search gives the same number; the text is not kept."),
    )
    full_phone = models.BooleanField(_("full phone shown"), default=False)

    class Meta:
        verbose_name = _("member access")
        verbose_name_plural = _("member access log")
        # The identity column grows with time; its index (the primary key's) is in every month's partition.
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["staff", "created_at"], name="member_access_staff_idx"),
            models.Index(
                fields=["member", "created_at"],
                name="member_access_member_idx",
                condition=models.Q(member__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=[1, 2, 3]),
                name="member_access_kind_known",
                violation_error_code="invalid_choice",
                violation_error_message=_("The kind of access is not one the log knows."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind=1) | models.Q(member__isnull=False),
                name="member_access_member_unless_search",
                violation_error_code="required",
                violation_error_message=_("Only a search may find no member: say which member was seen."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"
