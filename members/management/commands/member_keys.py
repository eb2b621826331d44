import base64

from django.core.management.base import BaseCommand

from members.crypto import keyring, new_key_text


class Command(BaseCommand):
    help = (
        "Print new member data keys to put in the environment (MEMBER_DATA_KEYS, MEMBER_INDEX_KEY). With "
        "--rotate, the new data key comes first, followed by the keys in use, so old values still open until "
        "rotate_member_keys has re-encrypted them; the index key is kept (a new one would orphan every blind index)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--rotate", action="store_true", help="a new data key in front of the current ones")
        parser.add_argument("--key-id", default="", help="the new key's id (default: k<n>, after the current ones)")

    def handle(self, *args, rotate: bool, key_id: str, **options):
        if not rotate:
            self.stdout.write(f"MEMBER_DATA_KEYS={key_id or 'k1'}:{new_key_text()}")
            self.stdout.write(f"MEMBER_INDEX_KEY={new_key_text()}")
            return
        ring = keyring()
        key_id = key_id or f"k{len(ring.data_keys) + 1}"
        while key_id in ring.data_keys:
            key_id = f"{key_id}x"
        current = ",".join(f"{k}:{base64.b64encode(v).decode()}" for k, v in ring.data_keys.items())
        self.stdout.write(f"MEMBER_DATA_KEYS={key_id}:{new_key_text()},{current}")
        self.stdout.write(f"MEMBER_INDEX_KEY={base64.b64encode(ring.index_key).decode()}")
        self.stderr.write(
            "Put these in the environment of every web, worker and beat process, restart them, then run "
            "python manage.py rotate_member_keys."
        )
