"""How long the tablet's pages and calls take on the server, at a chain's size.

    python -m bench.tablet --members 100000 --rounds 200

1. Generates members with three sales of history each (bench.generate), on the bench database.
2. Logs a cashier in on a tablet session (Django's test client, in-process: no network, no browser)
   and times each step of serving a customer `--rounds` times, on a different member each time:
   find-as-you-type on the first 7 digits of a phone (the htmx partial), Enter on the full phone,
   the member card, the sell page, a quote, and the checkout itself. Prints p50 and p95 per step and
   the SQL statements each costs.
3. Reference in the same run: pgbench's built-in select-only transaction from one client (one
   indexed primary-key read and its round trip), as latency per transaction.
"""

import argparse
import re
import statistics
import subprocess
import time
import uuid


def pgbench_select_latency_ms(seconds: int) -> float:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", "loyalty_pgbench"], check=True)
    subprocess.run(["createdb", *base, "loyalty_pgbench"], check=True)
    subprocess.run(["pgbench", *base, "-i", "-q", "-s", "10", "loyalty_pgbench"], check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", *base, "-c", "1", "-T", str(seconds), "-b", "select-only", "loyalty_pgbench"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(re.search(r"latency average = ([\d.]+) ms", out).group(1))


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database")
    args = parser.parse_args()

    django_on_bench_database(fresh=not args.reuse)
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from bench.generate import bench_cashier, generate_history, generate_members
    from loyalty.models import LoyaltySettings
    from members.models import Member
    from stores.tablet import STORE_SESSION_KEY

    settings.ALLOWED_HOSTS = ["*"]
    existing = Member.objects.count()
    if existing < args.members:
        made = generate_members(args.members - existing)
        print(f"generated {made['members']:,} members in {made['seconds']:.1f} s")
    cashier = bench_cashier()
    history = generate_history(sales_per_member=3, cashier_id=cashier.pk)
    if history["sales"]:
        print(f"generated {history['sales']:,} sales of history in {history['seconds']:.1f} s")
    LoyaltySettings.current()

    sample = list(
        Member.objects.filter(status=Member.Status.ACTIVE, home_store__code__startswith="B")
        .order_by("?")
        .values("code", "phone", "home_store_id")[: args.rounds]
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(cashier)
    session = client.session
    session[STORE_SESSION_KEY] = sample[0]["home_store_id"]
    session.save()
    store_code = Member.objects.get(code=sample[0]["code"]).home_store.code
    # Checkout is at the tablet's store; members of other stores buy there too.
    steps = {
        "find as you type (7 digits, htmx)": lambda m: client.post(
            reverse("tablet:find"), {"q": m["phone"][3:10]}, HTTP_HX_REQUEST="true"
        ),
        "find by full phone (→ card)": lambda m: client.post(reverse("tablet:find"), {"q": m["phone"], "go": "1"}),
        "member card": lambda m: client.get(reverse("tablet:member", args=[m["code"]])),
        "sell page": lambda m: client.get(reverse("tablet:sell"), {"member": m["code"]}),
        "quote": lambda m: client.post(
            "/api/v1/sales/quote/",
            {
                "store": store_code,
                "member": m["code"],
                "lines": [{"category": "饮品", "quantity": "2", "unit_price": "18.00"}],
            },
            content_type="application/json",
        ),
        "checkout": lambda m: client.post(
            "/api/v1/sales/",
            {
                "request_id": str(uuid.uuid4()),
                "store": store_code,
                "member": m["code"],
                "lines": [{"category": "饮品", "quantity": "2", "unit_price": "18.00"}],
                "tenders": [{"kind": "cash", "amount": "36.00"}],
            },
            content_type="application/json",
        ),
    }
    # Warm-up: templates compiled, connections open.
    for fn in steps.values():
        fn(sample[0])

    print(f"\n{Member.objects.count():,} members, {args.rounds} rounds, in-process (no network)")
    print(f"{'step':36} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, fn in steps.items():
        timings = []
        for member in sample:
            started = time.perf_counter()
            response = fn(member)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code in (200, 201, 302), (name, response.status_code, response.content[:300])
        with CaptureQueriesContext(connection) as captured:
            fn(sample[-1])
        timings.sort()
        p95 = timings[int(len(timings) * 0.95) - 1]
        print(f"{name:36} {statistics.median(timings):8.1f} {p95:8.1f} {len(captured.captured_queries):8d}")

    latency = pgbench_select_latency_ms(10)
    print(f"\nreference pgbench select-only, 1 client: {latency:.3f} ms per transaction")


if __name__ == "__main__":
    main()
