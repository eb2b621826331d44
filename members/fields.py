"""Model fields whose values are encrypted in the database and plain in Python (members.crypto).

A field rather than a pair of columns and a property: forms, the admin, serializers, exports
(`values_list`) and factories read and write `member.email` as before, validation runs on the plain
value, and the one place that turns a value into stored text is `get_db_prep_value`, which every ORM
write (save, bulk_create, bulk_update, update) goes through. What the ORM cannot do on ciphertext
it refuses to do silently wrong: these fields answer only `isnull` and the empty value (`email=""`),
because a lookup by value or an ordering compares ciphertexts, which never match or sort by meaning.
Set-based SQL (the import) writes ciphertext made with `seal()`.

The empty string is stored as it is: "no email" is no secret, and `email=""` stays a cheap filter.
"""

import datetime
import itertools
from functools import cached_property

from django.core.exceptions import FieldError
from django.db import models

from members import crypto
from members.phones import national_digits


class _EmptyOnlyExact(models.lookups.Exact):
    def get_db_prep_lookup(self, value, connection):
        if value not in ("", None):
            raise FieldError(f"{self.lhs.output_field.name} is encrypted: it can be compared with '' only.")
        return "%s", [value]


_ALLOWED_LOOKUPS = {"isnull": models.lookups.IsNull, "exact": _EmptyOnlyExact}


class EncryptedMixin:
    """`purpose` names the value in its ciphertext's associated data: it must never change once rows
    hold values (they would no longer decrypt), so it is not derived from the field's or table's name."""

    def __init__(self, *args, purpose: str, **kwargs):
        self.purpose = purpose
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        return name, path, args, kwargs

    def get_internal_type(self) -> str:
        # Text whatever the plain type: ciphertext is longer than max_length, and a DateField's type
        # would make SQLite's converters parse the ciphertext as a date.
        return "TextField"

    def db_type(self, connection):
        return connection.data_types["TextField"]

    def cast_db_type(self, connection):
        return self.db_type(connection)

    def get_lookup(self, lookup_name):
        if lookup_name not in _ALLOWED_LOOKUPS:
            raise FieldError(
                f"{self.model.__name__}.{self.name} is encrypted: it cannot be searched with {lookup_name!r}."
            )
        return _ALLOWED_LOOKUPS[lookup_name]

    def get_transform(self, lookup_name):
        raise FieldError(f"{self.model.__name__}.{self.name} is encrypted: it has no {lookup_name!r}.")

    def plain_text(self, value) -> str:
        return str(value)

    def from_plain_text(self, text: str):
        return text

    def seal(self, value) -> str | None:
        """The stored text of a plain value (None and "" are stored as they are)."""
        if value is None or value == "":
            return value
        return crypto.encrypt(self.plain_text(value), purpose=self.purpose)

    def get_db_prep_value(self, value, connection, prepared=False):
        if not prepared:
            value = self.get_prep_value(value)
        return self.seal(value)

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return self.from_plain_text(crypto.decrypt(value, purpose=self.purpose))


class EncryptedCharField(EncryptedMixin, models.CharField):
    """Optionally with blind indexes beside it (members.crypto.blind_index): `prefix_indexes` name the
    columns of the value's first 1, 2, … characters, `whole_index` the column of the whole value. They
    are written with the value on every save and bulk_create (pre_save), as the birthday's month is.
    They are exact, as the search they serve was (`startswith`): no case folding."""

    def __init__(
        self,
        *args,
        prefix_indexes: tuple[str, ...] = (),
        prefix_lengths: tuple[int, ...] = (),
        whole_index: str = "",
        **kwargs,
    ):
        self.prefix_indexes = tuple(prefix_indexes)
        # The lengths of the prefixes the columns hold, in their order: 1, 2, … by default.
        self.prefix_lengths = tuple(prefix_lengths) or tuple(range(1, len(self.prefix_indexes) + 1))
        if len(self.prefix_lengths) != len(self.prefix_indexes):
            raise ValueError("prefix_lengths needs one length per prefix index")
        self.whole_index = whole_index
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        if self.prefix_indexes:
            kwargs["prefix_indexes"] = self.prefix_indexes
        if self.prefix_lengths != tuple(range(1, len(self.prefix_indexes) + 1)):
            kwargs["prefix_lengths"] = self.prefix_lengths
        if self.whole_index:
            kwargs["whole_index"] = self.whole_index
        return name, path, args, kwargs

    @property
    def index_columns(self) -> tuple[str, ...]:
        return (*self.prefix_indexes, *((self.whole_index,) if self.whole_index else ()))

    def prefix_source(self, value: str) -> str:
        """The text whose prefixes the prefix indexes hold (the value itself here)."""
        return value

    def prefix_digest(self, prefix: str) -> str:
        return crypto.blind_index(prefix, purpose=self._prefix_purposes[len(prefix)])

    @cached_property
    def _prefix_purposes(self) -> dict[int, str]:
        return {length: f"{self.purpose}/prefix{length}" for length in self.prefix_lengths}

    def whole_digest(self, value: str) -> str:
        return crypto.blind_index(value, purpose=f"{self.purpose}/whole")

    def blind_indexes(self, value: str | None) -> tuple[str | None, ...]:
        """The index columns' values for a plain value, in `index_columns` order; a prefix longer than
        the value is NULL (the value's own length answers that search)."""
        text = value or ""
        whole = (self.whole_digest(text) if text else None,)
        return self.prefix_digests(text) + (whole if self.whole_index else ())

    def prefix_digests(self, value: str | None) -> tuple[str | None, ...]:
        """The prefix index columns' values alone, in `prefix_indexes` order."""
        source = self.prefix_source(value or "")
        return tuple(
            self.prefix_digest(source[:length]) if len(source) >= length else None for length in self.prefix_lengths
        )

    def whole_q(self, value: str) -> models.Q:
        """The values equal to `value` (through the whole-value index)."""
        if not value:
            return models.Q(pk__in=[])
        return models.Q(**{self.whole_index: self.whole_digest(value)})

    def search_q(self, text: str) -> models.Q:
        """Values starting with `text`, as far as the indexes can tell: up to as many characters as there
        are prefix indexes; a longer text finds the values equal to it."""
        if not text:
            return models.Q(pk__in=[])
        if len(text) in self.prefix_lengths:
            column = self.prefix_indexes[self.prefix_lengths.index(len(text))]
            return models.Q(**{column: self.prefix_digest(text)})
        if len(text) > max(self.prefix_lengths, default=0) and self.whole_index:
            return models.Q(**{self.whole_index: self.whole_digest(text)})
        return models.Q(pk__in=[])

    def pre_save(self, model_instance, add):
        value = super().pre_save(model_instance, add)
        if self.index_columns:
            for column, digest in zip(self.index_columns, self.blind_indexes(value), strict=True):
                setattr(model_instance, column, digest)
        return value


class EncryptedPhoneField(EncryptedCharField):
    """A member's phone in E.164, whose prefix indexes hold the start of the number as people type it:
    the national digits of a mainland number (13812345678), the E.164 form of any other (+85291234567).

    Only some prefix lengths are indexed (members.models.PHONE_PREFIX_LENGTHS); `search_q` serves every
    length from them, exactly as `startswith` would."""

    # A text shorter than an indexed length is completed to it with every digit: at most this many
    # completions, one IN list on that index (SQLite takes 999 parameters at most).
    MOST_COMPLETIONS = 100

    def prefix_source(self, value: str) -> str:
        return national_digits(value)

    def prefix_q(self, e164_prefix: str) -> models.Q:
        """The phones starting with `e164_prefix` (+86138…, +852…)."""
        return self.search_q(self.prefix_source(e164_prefix))

    def search_q(self, text: str) -> models.Q:
        """The phones whose prefix source starts with `text`: an equality on the index of its length; an
        IN list of its completions on the next longer index; or, longer than every index, the members
        the longest index shorter than it finds, narrowed by their decrypted phones. A mainland number
        has at most 10,000 members under one 7-digit prefix, so that narrowing reads a bounded number of
        rows; it runs when the condition is built."""
        if not text:
            return models.Q(pk__in=[])
        lengths = sorted(self.prefix_lengths)
        if len(text) in lengths:
            return super().search_q(text)
        longer = [length for length in lengths if length > len(text)]
        if longer and 10 ** (longer[0] - len(text)) <= self.MOST_COMPLETIONS:
            completions = itertools.product("0123456789", repeat=longer[0] - len(text))
            digests = [self.prefix_digest(text + "".join(digits)) for digits in completions]
            return models.Q(**{f"{self._index_column(longer[0])}__in": digests})
        shorter = [length for length in lengths if length < len(text)]
        if not shorter:
            return models.Q(pk__in=[])
        candidates = self.model._default_manager.filter(
            **{self._index_column(shorter[-1]): self.prefix_digest(text[: shorter[-1]])}
        ).values_list("pk", self.attname)
        return models.Q(pk__in=[pk for pk, phone in candidates if phone and self.prefix_source(phone).startswith(text)])

    def _index_column(self, length: int) -> str:
        return self.prefix_indexes[self.prefix_lengths.index(length)]


class EncryptedEmailField(EncryptedMixin, models.EmailField):
    pass


class EncryptedTextField(EncryptedMixin, models.TextField):
    """Longer text (a message's body, rendered with the member's name and details)."""


class EncryptedDateField(EncryptedMixin, models.DateField):
    def get_prep_value(self, value):
        # DateField's own would turn "" (an empty form field is None already) into an error.
        return self.to_python(value)

    def plain_text(self, value: datetime.date) -> str:
        return value.isoformat()

    def from_plain_text(self, text: str) -> datetime.date:
        return datetime.date.fromisoformat(text)

    def pre_save(self, model_instance, add):
        # The month and day kept in clear beside the date (birthday automations, segments, the birthday
        # month's points) follow it on every save and bulk_create, so they cannot disagree.
        value = super().pre_save(model_instance, add)
        month_field, day_field = self.clear_parts
        setattr(model_instance, month_field, value.month if value else None)
        setattr(model_instance, day_field, value.day if value else None)
        return value

    def __init__(self, *args, clear_parts: tuple[str, str], **kwargs):
        self.clear_parts = tuple(clear_parts)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["clear_parts"] = self.clear_parts
        return name, path, args, kwargs
