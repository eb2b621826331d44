"""Load the demo chain. Later apps add their part through DEMO_STEPS (see stores.demo)."""

from django.core.management.base import BaseCommand

from stores.demo import DemoOptions, load_demo


class Command(BaseCommand):
    help = (
        "Load a realistic demo chain: regions, stores, staff of every role and members with Chinese "
        "names and valid phones. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--members", type=int, default=2000, help="how many members (default 2000)")
        parser.add_argument("--seed", type=int, default=20261122, help="random seed; the same seed, the same chain")
        parser.add_argument(
            "--password", default=None, help="password of every demo login (default: a per-role demo password)"
        )

    def handle(self, *args, members, seed, password, verbosity, **options):
        if members < 0:
            self.stderr.write("--members cannot be negative")
            raise SystemExit(2)
        report = load_demo(
            DemoOptions(members=members, seed=seed, password=password),
            progress=self.stdout if verbosity > 0 else None,
        )
        if verbosity == 0:
            return
        self.stdout.write(self.style.SUCCESS("\nDemo chain ready."))
        for line in report.summary:
            self.stdout.write(f"  {line}")
        self.stdout.write("\nBack office: http://127.0.0.1:8000/admin/  (HQ roles; store roles work on the tablet)")
        self.stdout.write("Store tablet: http://127.0.0.1:8000/tablet/  (store managers and cashiers; HQ admin too)")
        for login in report.logins:
            self.stdout.write(f"  {login.role:<14} {login.username:<12} {login.password:<20} {login.where}")
