"""DRF's tokens were kept in plain text and never expired: they stop working and their table goes. Each
login that held one keeps a revoked integration token, so that it stays known as an integration's
(stores.selectors.done_in_person) and HQ sees which integrations need a new token."""

import hashlib
import os
from datetime import timedelta

from django.db import migrations
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"


def retire_plaintext_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    IntegrationToken = apps.get_model("stores", "IntegrationToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT user_id FROM {LEGACY_TABLE}")
        user_ids = [row[0] for row in cursor.fetchall()]
    now = timezone.now()
    IntegrationToken.objects.bulk_create(
        IntegrationToken(
            user_id=user_id,
            # The digest of random bytes: no token matches it.
            digest=hashlib.sha512(os.urandom(32)).hexdigest(),
            token_key="legacy",
            name="DRF token (plain text, retired)",
            expiry=now + timedelta(seconds=1),
            revoked_at=now,
        )
        for user_id in user_ids
    )
    schema_editor.execute(f"DROP TABLE {LEGACY_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("stores", "0004_integration_tokens_and_login_lockouts")]

    operations = [migrations.RunPython(retire_plaintext_tokens, migrations.RunPython.noop)]
