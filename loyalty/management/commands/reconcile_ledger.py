from django.core.management.base import BaseCommand, CommandError

from loyalty.models import PointsAccount, Wallet
from loyalty.reconcile import CHECKS, ledger_mismatches


class Command(BaseCommand):
    help = (
        "Prove the ledger invariants for every member: points balance = sum of entries = sum of open "
        "lots, debt = sum of debt entries, each lot = its points plus its allocations, wallet = sum "
        "of wallet entries. Exits non-zero on any mismatch."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=1000, help="report at most this many mismatches per check")

    def handle(self, *args, limit, **options):
        mismatches = ledger_mismatches(limit=limit)
        for m in mismatches:
            self.stderr.write(f"MISMATCH {m.check}: id {m.key}: cached {m.cached}, computed {m.computed}")
        accounts, wallets = PointsAccount.objects.count(), Wallet.objects.count()
        summary = f"{len(CHECKS)} checks over {accounts} points accounts and {wallets} wallets: "
        if mismatches:
            raise CommandError(summary + f"{len(mismatches)} mismatches")
        self.stdout.write(self.style.SUCCESS(summary + "all balanced"))
