"""Bulk coupon issue at chain scale: one coupon each to 100,000 members, set-based.

    python -m bench.issue_coupons --members 100000

Fills a fresh bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench_coupons)
with `bench.generate`'s members (COPY), then, in the same run:

1. reference: PostgreSQL's own COPY of as many coupon-sized rows (template, 14-character code, member,
   status, source, issue key, three times, discount) into a plain table without indexes or constraints,
   the rows made beforehand in memory (only the COPY is timed);
2. `coupons_issue_bulk` of a 满200减50 template (total quantity and a per-member limit, so every check
   runs) to every member, as the HQ admin: classification in SQL, codes drawn and loaded by COPY, one
   INSERT … SELECT … ON CONFLICT into the real table with its indexes and constraints, the template's
   count moved once, audited — one transaction;
3. the same issue again, which must issue nothing (every member already has it);

and prints seconds and rows/s of each, the ratio to COPY, and checks the counts and that every code is
distinct.
"""

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_coupons"


def copy_reference(rows: int) -> float:
    """Seconds PostgreSQL's COPY takes for `rows` coupon-sized rows into a plain table."""
    from django.db import connection

    from campaigns.codes import new_coupon_codes

    now = datetime.now(UTC)
    until = now + timedelta(days=30)
    data = [
        (1, code, i + 1, "issued", "bulk", "bench:reference", now, until, now, 0)
        for i, code in enumerate(new_coupon_codes(rows))
    ]
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_coupon_reference")
        cursor.execute(
            "CREATE TABLE bench_coupon_reference (template_id bigint, code varchar(20), member_id bigint, "
            "status varchar(8), source varchar(16), issue_key varchar(80), valid_from timestamptz, "
            "valid_until timestamptz, issued_at timestamptz, discount numeric(12, 2))"
        )
        connection.connection.commit()
        started = time.perf_counter()
        with cursor.copy(
            "COPY bench_coupon_reference (template_id, code, member_id, status, source, issue_key, valid_from, "
            "valid_until, issued_at, discount) FROM STDIN"
        ) as copy:
            for row in data:
                copy.write_row(row)
        connection.connection.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE bench_coupon_reference")
        connection.connection.commit()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()

    from bench._setup import django_on_bench_database

    django_on_bench_database(args.url, fresh=True)
    from bench.generate import generate_members

    generated = generate_members(args.members)
    print(f"{generated['members']:,} members generated in {generated['seconds']:.1f} s (COPY)")

    from decimal import Decimal

    from campaigns.models import Coupon, CouponTemplate
    from campaigns.services.coupons import coupons_issue_bulk
    from members.models import Member
    from stores.services import staff_create

    admin = staff_create(actor=None, username="bench_admin", password="bench-admin", role="hq_admin")
    template = CouponTemplate.objects.create(
        name="满200减50",
        kind=CouponTemplate.Kind.THRESHOLD_OFF,
        amount=Decimal("50.00"),
        threshold=Decimal("200.00"),
        valid_days=30,
        total_quantity=args.members,
        per_member_limit=1,
    )
    members = Member.objects.all()

    copy_seconds = copy_reference(args.members)

    started = time.perf_counter()
    first = coupons_issue_bulk(
        template=template, members=members, source=Coupon.Source.BULK, issue_key="bench:1", actor=admin
    )
    issue_seconds = time.perf_counter() - started

    started = time.perf_counter()
    again = coupons_issue_bulk(
        template=template, members=members, source=Coupon.Source.BULK, issue_key="bench:1", actor=admin
    )
    again_seconds = time.perf_counter() - started

    template.refresh_from_db()
    coupons = Coupon.objects.filter(template=template)
    count = coupons.count()
    distinct = coupons.values("code").distinct().count()
    print(f"\nbulk coupon issue to {args.members:,} members, PostgreSQL, same run:")
    print(
        f"  reference COPY into a plain table      {copy_seconds:7.2f} s  {args.members / copy_seconds:10,.0f} rows/s"
    )
    print(
        f"  coupons_issue_bulk (checked, indexed)  {issue_seconds:7.2f} s  {first.issued / issue_seconds:10,.0f} rows/s"
    )
    print(f"  ratio to COPY                          {copy_seconds / issue_seconds:7.1%}")
    print(
        f"  the same issue again                   {again_seconds:7.2f} s  issued {again.issued:,}, "
        f"already had it {again.already_issued:,}"
    )
    print(
        f"  coupons {count:,}, distinct codes {distinct:,}, template issued_count {template.issued_count:,}, "
        f"skipped at limit {first.at_limit:,}, frozen {first.frozen:,}"
    )
    assert first.issued + first.frozen == args.members and again.issued == 0
    assert count == distinct == template.issued_count == first.issued


if __name__ == "__main__":
    main()
