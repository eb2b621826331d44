"""Recording service-card uses (and booking appointments) through the services, on PostgreSQL.

    python -m bench.service_cards --threads 8 --seconds 10

1. Builds a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench_cards)
   with a few thousand members (bench/generate.py), a service, and cards sold through `card_sell`: a
   count card of 5,000 uses per thread and one period card without caps.
2. Calls `card_use` in-process (no HTTP: the service itself is what is measured), each call its own
   transaction as a till's request is:
   - sequentially, one card;
   - from `--threads` threads at once, each on its own card (tills of different members);
   - from `--threads` threads at once on the same card (a family sharing one card): the card's row lock
     serialises them, which is the point of the figure.
   Prints uses/s, p50 and p99 latency and the SQL queries of one use.
3. `appointment_book` sequentially, and from `--threads` threads with a named coach or "any" staff (ten
   coaches working all day, slots handed out in order so every booking is of a free slot), with any
   refusals (slot taken) counted.
4. Reference in the same run: pgbench's tpcb-like transaction on the same PostgreSQL, from one client
   and from `--threads` clients, and each figure's ratio to it.
"""

import argparse
import os
import re
import statistics
import subprocess
import threading
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_cards"


def _rid() -> str:
    return str(uuid.uuid4())


def pgbench_tps(clients: int, seconds: int, *, database: str) -> float:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    out = subprocess.run(
        [
            "pgbench",
            *base,
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(seconds),
            "-b",
            "tpcb-like",
            database,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def pgbench_init(database: str) -> None:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", database], check=True)
    subprocess.run(["createdb", *base, database], check=True)
    subprocess.run(["pgbench", *base, "-i", "-q", "-s", "10", database], check=True, capture_output=True)


def _run(threads: int, seconds: float, work) -> tuple[list[float], float, dict[str, int]]:
    """`work(n, i)` from `threads` threads for `seconds`; each thread its own database connection."""
    from django.core.exceptions import ValidationError
    from django.db import connection

    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(n: int) -> None:
        mine, i = [], 0
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    work(n, i)
                except ValidationError as refusal:
                    code = next(iter(refusal.error_dict.values()))[0].code if hasattr(refusal, "error_dict") else "?"
                    with lock:
                        errors[code] = errors.get(code, 0) + 1
                else:
                    mine.append(time.perf_counter() - started)
                i += 1
        finally:
            connection.close()
            with lock:
                latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    started = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies, time.perf_counter() - started, errors


def _line(label: str, latencies: list[float], elapsed: float, errors: dict, reference: float) -> str:
    latencies = sorted(latencies)
    rate = len(latencies) / elapsed if elapsed else 0.0
    p50 = statistics.median(latencies) * 1000 if latencies else 0.0
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)] * 1000 if latencies else 0.0
    refused = f"; refused {errors}" if errors else ""
    share = rate / reference
    return f"{label:<44} {rate:8.0f}/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  {share:6.1%} of pgbench{refused}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--members", type=int, default=5000)
    args = parser.parse_args()

    os.environ.setdefault("BENCH_DATABASE_URL", DEFAULT_URL)
    from bench._setup import django_on_bench_database

    url = django_on_bench_database(fresh=True)
    database = url.rpartition("/")[2] + "_pgbench"

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from bench.generate import bench_cashier, generate_members
    from loyalty.services import TenderInput
    from members.models import Member
    from servicecards.models import CardProduct, Service, ServiceStaff, WorkingHours
    from servicecards.services.cards import card_sell, card_use
    from stores.models import Store

    made = generate_members(args.members)
    print(f"generated {made['members']:,} members in {made['seconds']:.1f} s")
    cashier = bench_cashier()
    store = Store.objects.filter(code__startswith="B").order_by("code").first()
    service = Service.objects.create(code="BENCH-PT", name="私教课", duration_minutes=60, price=Decimal("300"))
    count = CardProduct.objects.create(
        code="BENCH-5000", name="5000次卡", kind="count", uses=Decimal(5000), price=Decimal("100.00")
    )
    period = CardProduct.objects.create(
        code="BENCH-YEAR", name="年卡", kind="period", validity_months=12, price=Decimal("100.00")
    )
    for product in (count, period):
        product.services.set([service])
    members = list(Member.objects.filter(status=Member.Status.ACTIVE).order_by("id")[: args.threads + 1])

    def sell(member, product):
        return card_sell(
            request_id=_rid(),
            store=store,
            cashier=cashier,
            member=member,
            product=product,
            tenders=[TenderInput("cash", product.price)],
        ).card

    own_cards = [sell(m, count) for m in members[: args.threads + 1]]
    shared = sell(members[0], period)

    def use(card):
        return card_use(request_id=_rid(), card=card, store=store, actor=cashier, service=service)

    with CaptureQueriesContext(connection) as captured:
        use(own_cards[-1])
    queries = len(captured.captured_queries)

    pgbench_init(database)
    tps_1 = pgbench_tps(1, int(args.seconds), database=database)
    tps_n = pgbench_tps(args.threads, int(args.seconds), database=database)
    print(f"\n{args.threads} threads, {args.seconds:.0f} s each; {Member.objects.count():,} members")
    print(f"reference pgbench tpcb-like: 1 client {tps_1:.0f} tps; {args.threads} clients {tps_n:.0f} tps")
    print(f"SQL queries of one card use: {queries}")

    last = own_cards[-1]
    print(_line("card_use, sequential, one card", *_run(1, args.seconds, lambda n, i: use(last)), tps_1))
    print(
        _line(
            f"card_use, {args.threads} threads, own cards",
            *_run(args.threads, args.seconds, lambda n, i: use(own_cards[n])),
            tps_n,
        )
    )
    print(
        _line(
            f"card_use, {args.threads} threads, one card",
            *_run(args.threads, args.seconds, lambda n, i: use(shared)),
            tps_n,
        )
    )

    from servicecards.services.appointments import appointment_book
    from stores.services import staff_create

    # Ten coaches working every day, all day, so the bench never runs out of free slots.
    coaches = []
    for k in range(10):
        user = staff_create(actor=None, username=f"bench_coach_{k}", password="x", role="cashier", stores=[store])
        coach = ServiceStaff.objects.create(user=user, job="coach")
        coach.services.set([service])
        WorkingHours.objects.bulk_create(
            [
                WorkingHours(staff=coach, store=store, weekday=d, starts=datetime.min.time(), ends=datetime.max.time())
                for d in range(7)
            ]
        )
        coaches.append(coach)
    bookers = list(Member.objects.filter(status=Member.Status.ACTIVE).order_by("-id")[:1000])
    first = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    slots = iter(range(10**9))
    slot_lock = threading.Lock()

    def book(n, i, *, staff=None):
        with slot_lock:
            k = next(slots)
        # Slots handed out in order, ten to an hour (one per coach), 00:00 to 23:00 of the days ahead: every
        # booking is of a free slot; what is measured is the booking, not the search for one.
        hour = k // len(coaches)
        return appointment_book(
            request_id=_rid(),
            store=store,
            actor=cashier,
            member=bookers[k % len(bookers)],
            service=service,
            starts_at=first + timedelta(days=hour // 23, hours=hour % 23),
            staff=staff(k) if staff else None,
        )

    print(
        _line(
            "appointment_book, sequential, named staff",
            *_run(1, args.seconds, lambda n, i: book(n, i, staff=lambda k: coaches[k % len(coaches)])),
            tps_1,
        )
    )
    print(
        _line(
            f"appointment_book, {args.threads} threads, named staff",
            *_run(args.threads, args.seconds, lambda n, i: book(n, i, staff=lambda k: coaches[k % len(coaches)])),
            tps_n,
        )
    )
    print(
        _line(
            f"appointment_book, {args.threads} threads, any staff",
            *_run(args.threads, args.seconds, lambda n, i: book(n, i)),
            tps_n,
        )
    )


if __name__ == "__main__":
    main()
