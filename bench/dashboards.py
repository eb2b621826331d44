"""Every registered dashboard's build on the bench chain: its queries and seconds, for the last 30 days
of the whole chain and of one store.

    python -m bench.generate --members 1000000 --sales-per-member 10   # once
    python -m bench.dashboards

Reads the bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench) as
bench.generate left it. The reference, measured in the same run, is PostgreSQL counting and summing the
period's sales by store in one statement (what any report of the period must at least read): each
dashboard prints its seconds next to it and the ratio.
"""

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()

    from bench._setup import django_on_bench_database

    django_on_bench_database(args.url)
    from datetime import timedelta

    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from analytics.dashboards import dashboards
    from analytics.dashboards.base import Scope
    from loyalty.models import Sale
    from members.models import Member
    from stores.models import Store

    end = timezone.localdate()
    start = end - timedelta(days=args.days - 1)
    chain = Scope(start=start, end=end)
    store = Store.objects.order_by("code").first()
    print(f"{Member.objects.count():,} members, {Sale.objects.count():,} sales; {start} – {end}")

    timings = []
    with connection.cursor() as cursor:
        for _run in range(3):  # the best of three: the first one reads the table into the cache
            began = time.perf_counter()
            cursor.execute(
                "SELECT store_id, COUNT(*), SUM(total_due) FROM loyalty_sale "
                "WHERE created_at >= %s AND created_at < %s GROUP BY store_id",
                [chain.start_at, chain.end_at],
            )
            cursor.fetchall()
            timings.append(time.perf_counter() - began)
    reference = min(timings)
    print(f"reference: the period's sales grouped by store in SQL: {reference:.3f} s")
    for scope, label in ((chain, "chain"), (Scope(start=start, end=end, store_ids=frozenset({store.pk})), store.code)):
        for dashboard in dashboards():
            dashboard.build(scope)  # warm, as the reference
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                board = dashboard.build(scope)
                seconds = time.perf_counter() - began
            rows = sum(len(t.rows) for t in board.tables)
            print(
                f"{dashboard.slug:>10} {label:>6}: {len(queries):2d} queries, {seconds:7.3f} s "
                f"({seconds / reference:6.1f}× the reference), {rows:,} rows"
            )


if __name__ == "__main__":
    main()
