"""Every registered dashboard page on the bench chain: its queries, its time and its slowest query, for a
period of the whole chain and of one store.

    python -m bench.analytics --members 1000000 --sales 10000000 --prepare-only   # once
    python -m bench.dashboards [--days 30]

Reads the bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench).
Each page is requested in-process by a superuser, after a warming request; the issue's target is each
page under 10 queries and within 2× its slowest single query. The reference, measured in the same run,
is PostgreSQL counting and summing the period's sales by store in one statement (what any report of
the period must at least read). bench.analytics runs the same measurement after scoring.
"""

import argparse
import os
import time


def reference_seconds(scope) -> float:
    """The best of three: the first run reads the table into the cache, as the warming request does."""
    from django.db import connection

    timings = []
    with connection.cursor() as cursor:
        for _run in range(3):
            began = time.perf_counter()
            cursor.execute(
                "SELECT store_id, COUNT(*), SUM(total_due) FROM loyalty_sale "
                "WHERE created_at >= %s AND created_at < %s GROUP BY store_id",
                [scope.start_at, scope.end_at],
            )
            cursor.fetchall()
            timings.append(time.perf_counter() - began)
    return min(timings)


def measure(*, days: int = 30) -> tuple[float, list[dict]]:
    """(reference seconds, a row per dashboard page and scope)."""
    from datetime import timedelta

    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from django.utils import timezone

    from analytics.dashboards import dashboards
    from analytics.dashboards.base import Scope
    from stores.models import Store

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    user = get_user_model().objects.filter(username="bench_admin").first()
    if user is None:
        user = get_user_model().objects.create_superuser("bench_admin", "bench@example.com", "bench-admin")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    end = timezone.localdate()
    start = end - timedelta(days=days - 1)
    reference = reference_seconds(Scope(start=start, end=end))
    store = Store.objects.order_by("code").first()
    rows = []
    for label, extra in (("chain", {}), (store.code, {"store": store.pk})):
        params = {"start": start.isoformat(), "end": end.isoformat(), **extra}
        for dashboard in dashboards():
            url = reverse("analytics_dashboard", args=[dashboard.slug])
            client.get(url, params)
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url, params)
                seconds = time.perf_counter() - began
            times = [float(q.get("time") or 0) for q in queries.captured_queries]
            rows.append(
                {
                    "slug": dashboard.slug,
                    "scope": label,
                    "status": response.status_code,
                    "queries": len(times),
                    "page_s": seconds,
                    "slowest_s": max(times, default=0.0),
                }
            )
    return reference, rows


def print_measurement(reference: float, rows: list[dict]) -> None:
    print(f"reference: the period's sales grouped by store in SQL: {reference:.3f} s")
    for row in rows:
        # Below a millisecond the slowest query is noise, and so is a ratio to it.
        ratio = f"{row['page_s'] / row['slowest_s']:.2f}" if row["slowest_s"] >= 0.001 else "—"
        print(
            f"{row['slug']:>13} {row['scope']:>6}: HTTP {row['status']}, {row['queries']:2d} queries, "
            f"page {row['page_s']:.3f} s ({row['page_s'] / max(reference, 1e-9):.1f}× the reference), "
            f"slowest query {row['slowest_s']:.3f} s, page / slowest {ratio}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL"))
    args = parser.parse_args()

    from bench._setup import django_on_bench_database

    django_on_bench_database(args.url)
    from loyalty.models import Sale
    from members.models import Member

    print(f"{Member.objects.count():,} members, {Sale.objects.count():,} sales; the last {args.days} days")
    print_measurement(*measure(days=args.days))


if __name__ == "__main__":
    main()
