"""No member of staff and no room is ever booked twice at once: the database refuses it.

Two appointments overlap when their half-open spans [starts_at, ends_at) meet (one ending at 10:00 and
the next starting at 10:00 do not). An appointment occupies its slot while booked and once done: a done
one really took the staff member's (and the room's) time, so nothing may be booked over it afterwards
either (a correction would otherwise show two services performed at once). A cancelled one and a no-show
free the slot, so a walk-in or a late booking can take it.

PostgreSQL: exclusion constraints over a tstzrange with btree_gist (for the = on staff_id / room_id).
SQLite has no exclusion constraints: BEFORE INSERT and BEFORE UPDATE triggers abort with the
constraint's name. Either way the error names the constraint, which servicecards.services.appointments
turns into a `slot_taken` error on the staff or room field.
"""

from django.contrib.postgres.operations import BtreeGistExtension
from django.db import migrations

TABLE = "servicecards_appointment"
OCCUPYING = "('booked', 'done')"
STAFF = "appointment_staff_never_overlaps"
ROOM = "appointment_room_never_overlaps"

POSTGRES_FORWARD = [
    f"""ALTER TABLE {TABLE} ADD CONSTRAINT {STAFF}
        EXCLUDE USING gist (staff_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (status IN {OCCUPYING})""",
    f"""ALTER TABLE {TABLE} ADD CONSTRAINT {ROOM}
        EXCLUDE USING gist (room_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&)
        WHERE (room_id IS NOT NULL AND status IN {OCCUPYING})""",
]
POSTGRES_BACKWARD = [
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {STAFF}",
    f"ALTER TABLE {TABLE} DROP CONSTRAINT IF EXISTS {ROOM}",
]


def _sqlite_trigger(name: str, event: str, column: str) -> str:
    # Django keeps SQLite datetimes as UTC text of one format, so text order is time order.
    other_row = "AND a.id <> NEW.id" if event == "UPDATE" else ""
    return f"""
        CREATE TRIGGER {name}_{event.lower()} BEFORE {event} ON {TABLE}
        FOR EACH ROW WHEN NEW.status IN {OCCUPYING} AND NEW.{column} IS NOT NULL
        BEGIN
            SELECT RAISE(ABORT, 'CHECK constraint failed: {name}')
            WHERE EXISTS (
                SELECT 1 FROM {TABLE} a
                WHERE a.{column} = NEW.{column} AND a.status IN {OCCUPYING}
                  AND a.starts_at < NEW.ends_at AND NEW.starts_at < a.ends_at {other_row}
            );
        END
    """


SQLITE_FORWARD = [
    _sqlite_trigger(name, event, column)
    for name, column in ((STAFF, "staff_id"), (ROOM, "room_id"))
    for event in ("INSERT", "UPDATE")
]
SQLITE_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {name}_{event}" for name in (STAFF, ROOM) for event in ("insert", "update")
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("servicecards", "0001_initial"),
    ]

    operations = [
        BtreeGistExtension(),  # does nothing off PostgreSQL
        migrations.RunPython(
            _run({"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        ),
    ]
