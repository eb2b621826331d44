"""The member summary the API answers (registration, lookup, GET /members/{code}/).

A summary shows more than the members app owns: tier, points and stored value (loyalty), usable
coupons (campaigns). Those apps sit above members (DESIGN §3: analytics → campaigns → loyalty →
members → stores), so instead of importing them this module keeps a registry of *sections*: an app
registers, from its AppConfig.ready(), the serializer fields it adds to the summary and a loader
that fetches their values for a batch of members in a constant number of queries. A lookup that
returns 20 members therefore costs what a single summary costs.

Until the campaigns app registers its "coupons" section, a placeholder answers an empty list.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rest_framework import serializers

from members.models import Member
from members.phones import shown_phone

FieldsFactory = Callable[[], dict[str, serializers.Field]]
# load(members, context) → {member.pk: {field name: value}}; `context` carries the request's user and store.
Loader = Callable[[list[Member], dict], dict[int, dict[str, Any]]]


@dataclass(frozen=True)
class SummarySection:
    name: str
    fields: FieldsFactory
    load: Loader


@dataclass
class MemberSummary:
    member: Member
    phone: str
    phone_masked: bool
    sections: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # The registered sections' fields read their values as attributes of the summary.
        try:
            return self.__dict__["sections"][name]
        except KeyError:
            raise AttributeError(name) from None


def _no_coupons_yet() -> dict[str, serializers.Field]:
    return {
        "coupons": serializers.ListField(
            child=serializers.DictField(), help_text="Coupons the member can use now (filled by the campaigns app)."
        )
    }


def _load_no_coupons(members: list[Member], context: dict) -> dict[int, dict[str, Any]]:
    return {m.pk: {"coupons": []} for m in members}


_PLACEHOLDERS = {"coupons": SummarySection("coupons", _no_coupons_yet, _load_no_coupons)}
_sections: dict[str, SummarySection] = {}
_serializer_class: type[serializers.Serializer] | None = None


def register_member_summary_section(name: str, *, fields: FieldsFactory, load: Loader) -> None:
    """Add (or replace) a section of the member summary; call it from AppConfig.ready()."""
    global _serializer_class
    _sections[name] = SummarySection(name, fields, load)
    _serializer_class = None


def _all_sections() -> list[SummarySection]:
    return [*_sections.values(), *(s for name, s in _PLACEHOLDERS.items() if name not in _sections)]


class MemberSummaryBaseSerializer(serializers.Serializer):
    code = serializers.CharField(source="member.code")
    name = serializers.CharField(source="member.name")
    phone = serializers.CharField(help_text="E.164, or masked (138****5678) for staff who may not see it in full.")
    phone_masked = serializers.BooleanField()
    status = serializers.ChoiceField(source="member.status", choices=Member.Status.choices)


def member_summary_serializer_class() -> type[serializers.Serializer]:
    """The summary's serializer: the member's own fields, then each registered section's."""
    global _serializer_class
    if _serializer_class is None:
        attrs = {}
        for section in _all_sections():
            attrs.update(section.fields())
        metaclass = type(MemberSummaryBaseSerializer)
        _serializer_class = metaclass("MemberSummarySerializer", (MemberSummaryBaseSerializer,), attrs)
    return _serializer_class


def member_summaries(
    members: list[Member], *, full_phone: Callable[[Member], bool], context: dict | None = None
) -> list[MemberSummary]:
    """Summaries of `members`, each section loaded once for all of them."""
    context = context or {}
    summaries = []
    for m in members:
        full = full_phone(m)
        summaries.append(
            MemberSummary(member=m, phone=shown_phone(m.phone, full=full, machine=True), phone_masked=not full)
        )
    for section in _all_sections():
        section_fields = list(section.fields())
        values = section.load(members, context) if members else {}
        for summary in summaries:
            found = values.get(summary.member.pk, {})
            for name in section_fields:
                summary.sections[name] = found.get(name)
    return summaries
