"""django-import-export resource of members, and the widgets that read a member file's cells.

The widgets hold the import's rules (what a phone, a date, an amount or a tag list may look like, and
the message when a cell breaks them). Both ways of importing use them:

- the set-based import (members.imports.service, behind `import_members` and the admin's upload page)
  calls each column's widget on every cell and stages the values for one upsert;
- MemberResource, a normal ModelResource, calls the same widgets through import-export's fields when
  it imports row by row (small files, or tablib datasets in code).

A widget raises ValueError with a message in the active language; import-export turns it into the
field's validation error, the set-based import into the row's reason.
"""

import json
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from members.codes import new_member_code
from members.imports.columns import IgnoredColumn, ImportColumn, normalize_header
from members.models import Member, Tag
from members.phones import normalize_phone_fast
from members.selectors import member_by_phone
from members.validators import validate_member_name
from stores.models import Store

MAX_TAGS = 20
TAG_SEPARATORS = re.compile(r"[,，;；|、]")
MAX_POINTS = 1_000_000_000
MAX_MONEY = Decimal("9999999999.99")


def _text(value) -> str:
    if value.__class__ is str:
        return value.strip()
    return "" if value is None else str(value).strip()


def _message(error: ValidationError) -> str:
    return " ".join(error.messages)


class CellRules:
    """A cell's rules: parse(text) takes the cell stripped and not empty, returns its value or raises
    ValueError with the reason. The set-based import calls parse() on every cell; import-export calls
    clean(), which is parse() for any value it holds (None and blanks are empty)."""

    def parse(self, text: str):
        raise NotImplementedError

    def clean(self, value, row=None, **kwargs):
        text = _text(value)
        return self.parse(text) if text else None


class PhoneWidget(CellRules, widgets.Widget):
    """Any way of typing a mobile number → E.164 (+8613812345678)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.region: str | None = None

    def parse(self, text: str) -> str:
        try:
            return normalize_phone_fast(text, region=self.region)
        except ValidationError as error:
            if "*" in text:
                # What the members export writes for a role that may not see full numbers (138****8000).
                raise ValueError(
                    _("“%(value)s” is a masked phone number: export the members with full phone numbers.")
                    % {"value": text[:20]}
                ) from None
            raise ValueError(_message(error)) from None


_COMMON_NAME = re.compile(r"[\u4e00-\u9fff]{1,20}")


class NameWidget(CellRules, widgets.CharWidget):
    max_length = Member._meta.get_field("name").max_length

    def parse(self, text: str) -> str:
        if len(text) > self.max_length:
            raise ValueError(_("A name has at most %(limit)d characters.") % {"limit": self.max_length})
        if _COMMON_NAME.fullmatch(text) is None:
            try:
                validate_member_name(text)
            except ValidationError as error:
                raise ValueError(_message(error)) from None
        return text


GENDERS = {
    Member.Gender.MALE: ("男", "男性", "先生", "male", "m", "man"),
    Member.Gender.FEMALE: ("女", "女性", "女士", "female", "f", "woman"),
    Member.Gender.UNKNOWN: ("未知", "保密", "unknown", "u"),
}
_GENDER_BY_TEXT = {text: gender.value for gender, texts in GENDERS.items() for text in texts}


class GenderWidget(CellRules, widgets.Widget):
    def parse(self, text: str) -> str:
        gender = _GENDER_BY_TEXT.get(text) or _GENDER_BY_TEXT.get(text.lower())
        if gender is None:
            raise ValueError(
                _("“%(value)s” is not a gender: write 男, 女, 未知, male, female, M or F.") % {"value": text[:20]}
            )
        return gender


_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ T]0{1,2}:00(?::00)?)?")
_COMPACT_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DATETIME = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _parse_date(value: str) -> date:
    match = _DATE.fullmatch(value) or _COMPACT_DATE.fullmatch(value)
    if match is None:
        raise ValueError(_("“%(value)s” is not a date; write it like 1990-05-21.") % {"value": value[:30]})
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        raise ValueError(_("“%(value)s” is not a date that exists.") % {"value": value[:30]}) from None


class BirthdayWidget(CellRules, widgets.DateWidget):
    """1990-05-21, 1990/5/21, 1990.05.21, 19900521 or 1990年5月21日; not in the future, not before 1900."""

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)
        self.today: date | None = None

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, date):
            return self._check(value.date() if isinstance(value, datetime) else value)
        return super().clean(value)

    def parse(self, text: str) -> date:
        return self._check(_parse_date(text))

    def _check(self, day: date) -> date:
        if day > (self.today or timezone.localdate()):
            raise ValueError(_("The birthday cannot be in the future."))
        if day.year < 1900:
            raise ValueError(_("Enter a birthday after 1900."))
        return day


class RegisteredAtWidget(CellRules, widgets.DateTimeWidget):
    """2021-03-04 15:20[:00] or a date alone (its local midnight), China time; not in the future."""

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d %H:%M:%S", **kwargs)
        self.now: datetime | None = None
        self.tz = None

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, datetime):
            return self._check(value if timezone.is_aware(value) else timezone.make_aware(value))
        return super().clean(value)

    def parse(self, text: str) -> datetime:
        tz = self.tz or timezone.get_current_timezone()
        match = _DATETIME.fullmatch(text)
        try:
            if match is None:
                day = _parse_date(text)  # 2021年3月4日, 20210304, or the "not a date" message
                moment = datetime(day.year, day.month, day.day, tzinfo=tz)
            else:
                y, mo, d, h, mi, s = match.groups()
                moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0), tzinfo=tz)
        except ValueError as error:
            if match is None:
                raise
            raise ValueError(_("“%(value)s” is not a date that exists.") % {"value": text[:30]}) from error
        return self._check(moment)

    def _check(self, moment: datetime) -> datetime:
        if moment > (self.now or timezone.now()):
            raise ValueError(_("The registration time cannot be in the future."))
        if moment.year < 1990:
            raise ValueError(_("Enter a registration time after 1990."))
        return moment


class TextWidget(CellRules, widgets.CharWidget):
    def __init__(self, max_length: int, **kwargs):
        super().__init__(**kwargs)
        self.max_length = max_length

    def parse(self, text: str) -> str:
        if len(text) > self.max_length:
            raise ValueError(_("At most %(limit)d characters.") % {"limit": self.max_length})
        return text


class EmailWidget(TextWidget):
    def parse(self, text: str) -> str:
        text = super().parse(text)
        try:
            validate_email(text)
        except ValidationError:
            raise ValueError(_("“%(value)s” is not an email address.") % {"value": text[:60]}) from None
        return text


class StoreCodeWidget(CellRules, widgets.ForeignKeyWidget):
    """A store by its code (SH001, case as written or not) → the store's id, looked up once per import."""

    def __init__(self, **kwargs):
        super().__init__(Store, field="code", key_is_id=True, **kwargs)
        self._ids: dict[str, int] | None = None

    def load(self) -> dict[str, int]:
        if self._ids is None:
            ids = {}
            for code, pk in Store.objects.values_list("code", "pk"):
                ids[code] = pk
                ids.setdefault(code.upper(), pk)
            self._ids = ids
        return self._ids

    def parse(self, text: str) -> int:
        ids = self.load()
        pk = ids.get(text) or ids.get(text.upper())
        if pk is None:
            raise ValueError(_("Unknown store code “%(code)s”.") % {"code": text[:32]})
        return pk


class TagsWidget(CellRules, widgets.ManyToManyWidget):
    """Tags separated by , ， ; ； | or 、; created when new. The set-based import stages their names
    (as a JSON array); import-export gets the Tag rows."""

    max_length = Tag._meta.get_field("name").max_length

    def __init__(self, **kwargs):
        super().__init__(Tag, separator=",", field="name", **kwargs)

    def names(self, text: str) -> list[str]:
        names = []
        for part in TAG_SEPARATORS.split(text):
            name = part.strip()
            if not name or name in names:
                continue
            if len(name) > self.max_length:
                raise ValueError(
                    _("The tag “%(tag)s…” is longer than %(limit)d characters.")
                    % {"tag": name[:10], "limit": self.max_length}
                )
            names.append(name)
        if len(names) > MAX_TAGS:
            raise ValueError(_("At most %(limit)d tags per member.") % {"limit": MAX_TAGS})
        return names

    def parse(self, text: str) -> str | None:
        names = self.names(text)
        return json.dumps(names, ensure_ascii=False) if names else None

    def clean(self, value, row=None, **kwargs):
        text = _text(value)
        names = self.names(text) if text else []
        for name in names:
            Tag.objects.get_or_create(name=name)
        return Tag.objects.filter(name__in=names)


class ReferrerWidget(CellRules, widgets.ForeignKeyWidget):
    """The referrer by phone, in any format. The set-based import stages the E.164 phone and finds the
    member (already registered, or another row of the file) in SQL; import-export gets the member."""

    def __init__(self, **kwargs):
        super().__init__(Member, field="phone", **kwargs)
        self.phone = PhoneWidget()

    def parse(self, text: str) -> str:
        return self.phone.parse(text)

    def clean(self, value, row=None, **kwargs):
        phone = super().clean(value)
        if phone is None:
            return None
        referrer = member_by_phone(phone)
        if referrer is None:
            raise ValueError(_("No member has the referrer's phone %(phone)s.") % {"phone": phone})
        return referrer

    def render(self, value, obj=None, **kwargs):
        return value.phone if value is not None else ""


_PLAIN_INTEGER = re.compile(r"\d{1,10}")
_PLAIN_MONEY = re.compile(r"\d{1,10}(?:\.\d{1,2})?")
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)")


def parse_number(value: str, *, what: str, negative: str | None = None) -> Decimal:
    """A plain decimal number from a cell: thousands separators, ¥ and 元 allowed; no exponents.
    Below zero it is refused with `negative` (default: a balance cannot be negative)."""
    text = value.replace(",", "").replace("，", "").replace(" ", "")
    text = text.removeprefix("¥").removeprefix("￥").removesuffix("元")
    if _NUMBER.fullmatch(text) is None:
        raise ValueError(_("“%(value)s” is not a number (%(what)s).") % {"value": value[:30], "what": what})
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(_("“%(value)s” is not a number (%(what)s).") % {"value": value[:30], "what": what}) from None
    if number < 0:
        raise ValueError(negative or _("A balance cannot be negative."))
    return number


class PointsWidget(CellRules, widgets.IntegerWidget):
    """A points balance: a whole number, 0 or more."""

    def parse(self, value: str) -> int:
        if _PLAIN_INTEGER.fullmatch(value):
            points = int(value)
        else:
            number = parse_number(value, what=_("points"))
            if number != number.to_integral_value():
                raise ValueError(_("Points are whole numbers; “%(value)s” is not.") % {"value": value[:30]})
            points = int(number)
        if points > MAX_POINTS:
            raise ValueError(_("At most %(limit)s points.") % {"limit": f"{MAX_POINTS:,}"})
        return points


class MoneyWidget(CellRules, widgets.DecimalWidget):
    """An amount of money in ¥: 0 or more, at most two decimals."""

    def negative_message(self) -> str | None:
        return None

    def parse(self, value: str) -> Decimal:
        if _PLAIN_MONEY.fullmatch(value):
            return Decimal(value)
        number = parse_number(value, what=_("an amount in ¥"), negative=self.negative_message())
        if number.as_tuple().exponent < -2 and number != number.quantize(Decimal("0.01")):
            raise ValueError(_("“%(value)s” has more than two decimals.") % {"value": value[:30]})
        if number > MAX_MONEY:
            raise ValueError(_("The amount is too large."))
        return number.quantize(Decimal("0.01"))


def member_columns() -> list[ImportColumn]:
    """The member columns of an import, in the template's order; fresh widgets for each import."""
    return [
        ImportColumn(
            "phone",
            "手机号",
            (
                *("phone", "mobile", "phone number", "mobile phone", "mobile number", "cellphone", "tel", "telephone"),
                *("手机", "手机号码", "电话", "电话号码", "联系电话", "会员手机号", "会员手机"),
            ),
            PhoneWidget(),
            required=True,
        ),
        ImportColumn(
            "name",
            "姓名",
            ("name", "full name", "member name", "名字", "会员姓名", "客户姓名", "会员名称"),
            NameWidget(),
        ),
        ImportColumn("gender", "性别", ("gender", "sex"), GenderWidget()),
        ImportColumn(
            "birthday",
            "生日",
            ("birthday", "birth date", "date of birth", "dob", "出生日期", "出生年月日"),
            BirthdayWidget(),
            sql_type="date",
        ),
        ImportColumn(
            "email",
            "邮箱",
            ("email", "e-mail", "email address", "mail", "电子邮箱", "电子邮件", "邮件"),
            EmailWidget(254),
        ),
        ImportColumn("address", "地址", ("address", "联系地址", "住址"), TextWidget(255)),
        ImportColumn("notes", "备注", ("notes", "note", "remark", "remarks", "comment"), TextWidget(2000)),
        ImportColumn(
            "home_store",
            "门店编码",
            (
                *("store code", "store", "home store", "home store code"),
                *("门店", "门店代码", "门店编号", "所属门店编码", "开卡门店编码"),
            ),
            StoreCodeWidget(),
            sql_type="bigint",
        ),
        ImportColumn("tags", "标签", ("tags", "tag", "labels", "会员标签"), TagsWidget()),
        ImportColumn(
            "registered_at",
            "注册时间",
            (
                *("registered at", "registered", "registration date", "registration time", "joined at", "join date"),
                *("sign up date", "created at", "注册日期", "开卡时间", "开卡日期", "入会时间", "入会日期"),
            ),
            RegisteredAtWidget(),
            sql_type="datetime",
        ),
        ImportColumn(
            "referrer",
            "推荐人手机号",
            ("referrer phone", "referrer", "referred by", "referrer mobile", "推荐人", "推荐人手机", "推荐人电话"),
            ReferrerWidget(),
        ),
    ]


def member_ignored_columns() -> list[IgnoredColumn]:
    """Columns of the members export (members.exports) that the import reads past. Each is a column
    the import cannot or must not write from a spreadsheet cell:"""
    return [
        # The member code is the chain's number for the member, drawn once at registration (and the
        # card's barcode); members are matched by phone. Excel also drops its leading zeros.
        IgnoredColumn("member_code", "会员编号", ("member code",)),
        # Freezing and unfreezing go through members.services.member_set_status, which asks for a
        # reason and leaves an audit row per member: a cell carries neither, and re-importing an old
        # export must not unfreeze a member frozen since (or freeze one by a typo). Done in the back
        # office, member by member.
        IgnoredColumn("status", "状态", ("member status",)),
        # The home store is imported by its code (门店编码); the name is only there to be read.
        IgnoredColumn("store_name", "门店名称", ("store name",)),
        # Marketing consent is personal information law (PIPL): it must come from the member, and the
        # record says how and when it was given (consent_source, consent_at). A 是 in a spreadsheet says
        # neither, and an old export imported again would give back consent a member has withdrawn
        # since. Consent is only ever recorded where the member gives it (tablet, mini-program, API).
        IgnoredColumn("marketing_consent", "营销许可", ("marketing consent",)),
        # How the member first registered is history: an existing member keeps it, a new one is "import".
        IgnoredColumn("registration_channel", "注册渠道", ("registration channel",)),
    ]


def import_ignored_columns() -> list[IgnoredColumn]:
    """Every column the members import reads past: the members' own and those other apps register."""
    from members.imports.extensions import ignored_import_columns

    return [*member_ignored_columns(), *ignored_import_columns()]


def import_columns() -> list[ImportColumn]:
    """Member columns followed by those other apps add (loyalty: opening balances)."""
    from members.imports.extensions import import_extensions

    columns = member_columns()
    for extension in import_extensions():
        columns.extend(extension.columns())
    return columns


def prepare_widgets(columns: list[ImportColumn], *, now: datetime) -> None:
    """Fix "today" and "now" for one import, so a long import judges every row against one clock, and
    load what widgets look up (store codes) before rows stream: no query may run during a COPY."""
    today = timezone.localdate(now)
    for column in columns:
        if isinstance(column.widget, StoreCodeWidget):
            column.widget.load()
        if isinstance(column.widget, (PhoneWidget, ReferrerWidget)):
            phone = column.widget if isinstance(column.widget, PhoneWidget) else column.widget.phone
            phone.region = settings.PHONE_DEFAULT_REGION
        if isinstance(column.widget, BirthdayWidget):
            column.widget.today = today
        if isinstance(column.widget, RegisteredAtWidget):
            column.widget.now = now
            column.widget.tz = timezone.get_current_timezone()


class MemberResource(resources.ModelResource):
    """Members by phone, with the import's columns and widgets.

    Row-by-row import through import-export (`MemberResource().import_data(dataset)`) applies the same
    cell rules as the set-based import, for the member's own fields, tags, home store and referrer.
    Opening balances need the set-based import (they become ledger entries in loyalty), and so do
    large files: import-export saves one row at a time.
    """

    phone = fields.Field("phone", "phone", PhoneWidget())
    name = fields.Field("name", "name", NameWidget())
    gender = fields.Field("gender", "gender", GenderWidget())
    birthday = fields.Field("birthday", "birthday", BirthdayWidget())
    email = fields.Field("email", "email", EmailWidget(254))
    address = fields.Field("address", "address", TextWidget(255))
    notes = fields.Field("notes", "notes", TextWidget(2000))
    home_store = fields.Field("home_store_id", "home_store", StoreCodeWidget())
    tags = fields.Field("tags", "tags", TagsWidget())
    registered_at = fields.Field("registered_at", "registered_at", RegisteredAtWidget())
    referrer = fields.Field("referrer", "referrer", ReferrerWidget())

    class Meta:
        model = Member
        fields = (
            "phone",
            "name",
            "gender",
            "birthday",
            "email",
            "address",
            "notes",
            "home_store",
            "tags",
            "registered_at",
            "referrer",
        )
        import_id_fields = ("phone",)
        skip_unchanged = True
        report_skipped = True
        clean_model_instances = False

    def get_instance(self, instance_loader, row):
        # The phone is encrypted: the member is found by its blind index, not by `phone=` (members.fields).
        if "phone" not in row:
            return None
        phone = self.fields["phone"].clean(row)
        return member_by_phone(phone) if phone else None

    def before_import(self, dataset, **kwargs):
        # Headers as the set-based import reads them: any alias, English or Chinese.
        by_name = {}
        for column in member_columns():
            for name in (column.header, column.key, *column.aliases):
                by_name[normalize_header(name)] = column.key
        dataset.headers = [by_name.get(normalize_header(str(h)), h) for h in dataset.headers]
        # Empty cells keep what the member has, as in the set-based import.
        for field in self.fields.values():
            field.saves_null_values = False

    def before_save_instance(self, instance, row, **kwargs):
        if instance.pk is None:
            instance.code = new_member_code()
            instance.registration_channel = Member.Channel.IMPORT
            instance.registration_store_id = instance.home_store_id
        if instance.referrer_id is not None and instance.referrer_id == instance.pk:
            raise ValidationError({"referrer": _("A member cannot refer themselves.")})
