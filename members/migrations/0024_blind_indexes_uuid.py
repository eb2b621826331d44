"""Blind indexes as uuid on PostgreSQL (members.models.blind_index_field): 16 bytes compared byte by byte
instead of 33 bytes of text compared by the collation. One ALTER TABLE for the seven columns, so the
member table is rewritten once, not seven times. SQLite keeps its columns: a uuid there is the same 32
hex digits of text, which is what they hold."""

from django.db import migrations, models

COLUMNS = (
    "name_prefix1_index",
    "name_prefix2_index",
    "name_prefix3_index",
    "name_whole_index",
    "phone_index",
    "phone_prefix4_index",
    "phone_prefix7_index",
)


def to_uuid(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE members_member "
            + ", ".join(f"ALTER COLUMN {column} TYPE uuid USING {column}::uuid" for column in COLUMNS)
        )


def to_text(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE members_member "
            + ", ".join(
                f"ALTER COLUMN {column} TYPE varchar(32) USING replace({column}::text, '-', '')" for column in COLUMNS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0023_phone_changes_masked"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
        migrations.AlterField(
            model_name='member',
            name='name_prefix1_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='member',
            name='name_prefix2_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='member',
            name='name_prefix3_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='member',
            name='name_whole_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='member',
            name='phone_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='member',
            name='phone_prefix4_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
        migrations.AlterField(
            model_name='member',
            name='phone_prefix7_index',
            field=models.UUIDField(blank=True, editable=False, null=True),
        ),
                ],
            database_operations=[migrations.RunPython(to_uuid, to_text)],
        )
    ]
