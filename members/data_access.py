"""The member's right to see their data (PIPL art. 45): one JSON file of everything the product holds about
one member, made by an HQ admin on request, audited.

Each app adds what it owns from AppConfig.ready() with `register_member_data(key, loader)`: loyalty its
ledgers, sales and wallet, campaigns its coupons, messages and mall orders. The file is built in the request
and sent as the answer, never written to disk: there is no copy to protect or expire afterwards.

JSON rather than a zip of CSVs: the data is nested (a sale and its lines and tenders), one file is easier to
hand over, and any spreadsheet or text editor opens it.
"""

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model, QuerySet
from django.utils import timezone

from members.models import ConsentRecord, Member, MemberAccess
from stores.models import AuditEntry
from stores.permissions import require_staff_can
from stores.roles import Action
from stores.services import audit_record

Loader = Callable[[Member], Any]

_sections: dict[str, Loader] = {}


def register_member_data(key: str, loader: Loader) -> None:
    """Add (or replace) a part of the member's data file; `loader(member)` returns JSON-able data."""
    _sections[key] = loader


def rows(queryset: QuerySet, fields: Iterable[str]) -> list[dict[str, Any]]:
    """The rows as plain dicts of the named fields (related ones by `__`), in the queryset's order."""
    return list(queryset.values(*fields))


def _labelled(model: type[Model], items: list[dict[str, Any]], field: str) -> list[dict[str, Any]]:
    # A member reads "Earned", not "earn": choices are given with their label.
    labels = dict(model._meta.get_field(field).choices or [])
    for item in items:
        item[field] = {"value": item[field], "label": str(labels.get(item[field], item[field]))}
    return items


def _profile(member: Member) -> dict[str, Any]:
    return {
        "code": member.code,
        "phone": member.phone,
        "name": member.name,
        "gender": member.get_gender_display(),
        "birthday": member.birthday,
        "email": member.email,
        "address": member.address,
        "status": member.get_status_display(),
        "home_store": member.home_store.name if member.home_store_id else None,
        "registered_at": member.registered_at,
        "registration_store": member.registration_store.name if member.registration_store_id else None,
        "registration_channel": member.get_registration_channel_display(),
        "referred_by": member.referrer.code if member.referrer_id else None,
        "notes": member.notes,
        "tags": [tag.name for tag in member.tags.all()],
        "erased_at": member.erased_at,
    }


def _consent(member: Member) -> dict[str, Any]:
    history = rows(
        ConsentRecord.objects.filter(member=member).order_by("at", "id"),
        ["at", "given", "source", "store__code", "staff__username", "text_version"],
    )
    return {
        "marketing_consent": member.marketing_consent,
        "given_at": member.consent_at,
        "source": member.get_consent_source_display(),
        "history": _labelled(ConsentRecord, history, "source"),
    }


def _access_log(member: Member) -> list[dict[str, Any]]:
    entries = rows(
        MemberAccess.objects.filter(member=member).order_by("created_at", "id"),
        ["created_at", "staff__username", "store__code", "kind", "channel", "full_phone"],
    )
    return _labelled(MemberAccess, _labelled(MemberAccess, entries, "kind"), "channel")


def _audit_trail(member: Member) -> list[dict[str, Any]]:
    return rows(
        AuditEntry.objects.filter(target_type=Member._meta.label_lower, target_id=str(member.pk)).order_by(
            "created_at", "id"
        ),
        ["created_at", "action", "actor__username", "store__code", "reason"],
    )


register_member_data("profile", _profile)
register_member_data("consent", _consent)
register_member_data("access_log", _access_log)
register_member_data("changes", _audit_trail)


def member_data(member: Member) -> dict[str, Any]:
    """Everything registered, by part; the member's profile first."""
    member = Member.objects.select_related("home_store", "registration_store", "referrer").get(pk=member.pk)
    return {key: loader(member) for key, loader in _sections.items()}


def member_data_file(*, member: Member, by) -> tuple[str, bytes]:
    """(file name, JSON) of the member's data, for an HQ admin; audited in the same transaction."""
    require_staff_can(by, Action.EXPORT_MEMBER_DATA)
    with transaction.atomic():
        data = {"member": member.code, "made_at": timezone.now(), **member_data(member)}
        audit_record(
            actor=by,
            action="member.data_exported",
            target=member,
            reason="",
            data={"parts": [key for key in data if key not in ("member", "made_at")]},
        )
    content = json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2).encode()
    return f"member-{member.code}-{timezone.localdate():%Y%m%d}.json", content
