"""Send the outbox's due messages now: what the every-minute beat task does, for an operator or for the
embedded mode (no Celery beat there) from cron."""

from django.core.management.base import BaseCommand

from campaigns.services.messaging import CLAIM_BATCH_SIZE, messages_send_due


class Command(BaseCommand):
    help = "Send the outbox's due messages through their channels' backends, then print what happened."

    def add_arguments(self, parser):
        parser.add_argument("--batch", type=int, default=CLAIM_BATCH_SIZE, help="messages claimed at a time")
        parser.add_argument("--seconds", type=float, default=50.0, help="stop claiming after this long")

    def handle(self, *args, batch: int, seconds: float, **options):
        summary = messages_send_due(batch_size=max(1, batch), time_budget=max(0.0, seconds))
        self.stdout.write(
            "{sent} sent, {retry} to retry, {failed} failed, {skipped} skipped; "
            "{requeued} requeued and {unknown} of unknown outcome after a stopped worker".format(**summary)
        )
