"""Phone changes audited before issue 17 kept both numbers in full in the audit trail; the service now
writes them masked (members.services), and so do these older rows from now on. Only the masked form is
kept: a masked value is not a phone, so masking again changes nothing, and the migration cannot be
undone (the full numbers are gone on purpose)."""

from django.db import migrations


def _masked(value):
    # members.phones.mask_phone as it is today, copied so that this migration keeps its meaning.
    if not isinstance(value, str) or "*" in value:
        return value
    digits = value[3:] if value.startswith("+86") else value
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_phone_changes(apps, schema_editor):
    AuditEntry = apps.get_model("stores", "AuditEntry")
    changed = []
    for entry in AuditEntry.objects.filter(action="member.phone_changed").only("id", "data").iterator(2000):
        data = dict(entry.data or {})
        masked = {key: _masked(data[key]) for key in ("before", "after") if key in data}
        if any(masked[key] != data[key] for key in masked):
            entry.data = {**data, **masked}
            changed.append(entry)
        if len(changed) >= 2000:
            AuditEntry.objects.bulk_update(changed, ["data"])
            changed = []
    AuditEntry.objects.bulk_update(changed, ["data"])


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0022_member_phone_two_prefix_indexes"),
        ("stores", "0006_token_constraint_messages"),
    ]

    operations = [migrations.RunPython(mask_phone_changes, migrations.RunPython.noop, elidable=True)]
