"""Run the automations' scheduled triggers now, or as of another moment: what the hourly beat task does,
for an operator, for the embedded mode (no Celery beat there) from cron, or to see what a run would do."""

from datetime import datetime, time

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from tqdm import tqdm

from campaigns.models import Automation
from campaigns.selectors.automations import EVENT_TRIGGERS
from campaigns.services.automations import RunResult, automations_run


def _moment(text: str):
    moment = parse_datetime(text)
    if moment is None:
        day = parse_date(text)
        if day is None:
            raise CommandError(f"--as-of {text}: not a date or time (2026-03-15 or 2026-03-15T09:00)")
        moment = datetime.combine(day, time(9, 0))
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


class Command(BaseCommand):
    help = (
        "Run the scheduled triggers (birthday, dormant, points expiring, downgrade risk, churn risk) of the active "
        "automations, or of one, then print whom each reached. Running it again reaches nobody twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as-of", help="run as of this local date or time (default: now); a date means 09:00")
        parser.add_argument("--automation", type=int, help="only this automation (by id), active or not")
        parser.add_argument("--dry-run", action="store_true", help="count whom it would reach; write nothing")

    def handle(self, *args, as_of, automation, dry_run, verbosity, **options):
        now = _moment(as_of) if as_of else timezone.now()
        if automation is not None:
            chosen = Automation.objects.filter(pk=automation).first()
            if chosen is None:
                raise CommandError(f"--automation {automation}: no such automation")
            if chosen.trigger in EVENT_TRIGGERS:
                raise CommandError(f"--automation {automation}: its trigger is an event; it runs from the event's hook")
        bar = tqdm(
            unit=" members", desc="dry run" if dry_run else "running", file=self.stderr._out, disable=verbosity == 0
        )

        def progress(part: RunResult) -> None:
            bar.update(part.found)
            bar.set_postfix(reached=part.reached, refresh=False)

        try:
            results = automations_run(now=now, automation_id=automation, dry_run=dry_run, progress=progress)
        finally:
            bar.close()
        head = "Dry run, nothing written" if dry_run else "Ran"
        self.stdout.write(f"{head}: {len(results)} automation(s) as of {timezone.localtime(now):%Y-%m-%d %H:%M}")
        for r in results:
            would = "would reach" if dry_run else "reached"
            line = (
                f"  #{r.automation_id} {r.name}: found {r.found}, {would} {r.reached}, held out {r.held_out}, "
                f"capped {r.capped}, cannot use the coupon {r.coupon_unusable}, already reached {r.already_reached}, "
                f"not in segment {r.not_in_segment}"
            )
            if not dry_run:
                line += f"; {r.coupons} coupons, {r.points} points, {r.messages} messages queued, {r.boosts} boosts"
            if r.skipped:
                line += "; not done: " + ", ".join(f"{code} {n}" for code, n in sorted(r.skipped.items()))
            self.stdout.write(line)
            if r.notice:
                self.stdout.write(f"    {r.notice}")
