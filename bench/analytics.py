"""Scoring at chain scale: score_members next to pandas computing the same RFM from a CSV export.

    python -m bench.analytics --members 1000000 --sales 10000000

PLACEHOLDER
"""

import argparse
import time

from bench._setup import DEFAULT_BENCH_URL  # noqa: F401


def prepare(*, members: int, sales: int) -> dict:
    """Fill the bench database up to `members` members and about `sales` sales; reused when already there."""
    from bench.generate import bench_cashier, generate_members, generate_sales_history
    from loyalty.models import Sale
    from members.models import Member

    figures = {}
    have = Member.objects.count()
    if have < members:
        made = generate_members(members - have)
        figures["members_seconds"] = made["seconds"]
        print(f"generated {made['members']:,} members in {made['seconds']:.1f} s", flush=True)
    have_sales = Sale.objects.count()
    if have_sales < sales * 0.9:
        made = generate_sales_history(sales=sales - have_sales, cashier_id=bench_cashier().pk)
        figures["sales_seconds"] = made["seconds"]
        print(f"generated {made['sales']:,} sales in {made['seconds']:.1f} s", flush=True)
    return figures


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    args = parser.parse_args()
    django_on_bench_database(fresh=args.fresh)
    started = time.perf_counter()
    prepare(members=args.members, sales=args.sales)
    print(f"prepared in {time.perf_counter() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
