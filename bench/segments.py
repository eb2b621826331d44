"""Counting segments at chain scale: members_matching(rules).count() next to the same count written by hand.

    python -m bench.segments --members 1000000

Builds a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench_segments)
with that many members and a purchase history (bench.generate: statistics, points accounts and lots
that expire a year after each sale), gives members tiers by their spend, then counts typical segments
two ways, each the median of --repeat runs:

- through members_matching(rules).count(): compiling the rules, Django building the SQL, PostgreSQL
  running it (what the builder's live count, a campaign's launch and the preview pay);
- the hand-written SQL of the same question run directly through psycopg (the floor).

The ratio between the two is the figure: it holds on a noisy machine where the milliseconds do not.
"""

import argparse
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_segments"


def _median_ms(fn, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def _prepare(members: int, sales_per_member: int) -> None:
    from django.db import connection

    from bench.generate import bench_cashier, generate_history, generate_members
    from members.models import Member

    existing = Member.objects.count()
    if existing < members:
        result = generate_members(members - existing)
        print(f"generated {result['members']:,} members in {result['seconds']:.1f} s")
        history = generate_history(sales_per_member=sales_per_member, cashier_id=bench_cashier().pk)
        print(f"generated {history['sales']:,} sales of history in {history['seconds']:.1f} s")
        with connection.cursor() as cursor:
            # Tiers by spend, as the tier evaluation would give them (the history generator leaves none).
            # A tenth of the tiers' thresholds: two sales of history reach silver (¥100) and gold (¥300).
            cursor.execute(
                "UPDATE loyalty_memberstats s SET tier_since = s.first_purchase_at, tier_id = (SELECT t.id "
                "FROM loyalty_tier t WHERE t.threshold / 10 <= s.total_spend ORDER BY t.rank DESC LIMIT 1)"
            )
            for table in ("loyalty_memberstats", "loyalty_pointsaccount", "loyalty_pointslot"):
                cursor.execute(f"VACUUM ANALYZE {table}")


def _scenarios(now: datetime):
    from loyalty.models import Tier
    from members.models import Tag
    from stores.models import Store

    gold = Tier.objects.get(code="GOLD")
    silver = Tier.objects.get(code="SILVER")
    stores = list(Store.objects.filter(code__startswith="B").order_by("code").values_list("pk", flat=True)[:3])
    vip = Tag.objects.get(name="VIP")
    month = now.month
    soon = now + timedelta(days=30)
    active = "m.status = 'active'"
    return [
        (
            "tier silver or gold",
            [{"field": "tier", "op": "in", "value": [silver.pk, gold.pk]}],
            "SELECT COUNT(*) FROM members_member m JOIN loyalty_memberstats s ON s.member_id = m.id "
            f"WHERE {active} AND s.tier_id IN ({silver.pk}, {gold.pk})",
        ),
        (
            "spend ¥100–500, 2+ visits",
            [{"field": "spend", "value": {"min": 100, "max": 500}}, {"field": "visits", "value": {"min": 2}}],
            "SELECT COUNT(*) FROM members_member m JOIN loyalty_memberstats s ON s.member_id = m.id "
            f"WHERE {active} AND s.total_spend BETWEEN 100 AND 500 AND s.purchase_count >= 2",
        ),
        (
            "3 stores, 30–90 days idle",
            [
                {"field": "home_store", "value": stores},
                {"field": "days_since_purchase", "value": {"min": 30, "max": 90}},
            ],
            "SELECT COUNT(*) FROM members_member m JOIN loyalty_memberstats s ON s.member_id = m.id "
            f"WHERE {active} AND m.home_store_id IN ({', '.join(map(str, stores))}) "
            f"AND s.last_purchase_at <= '{(now - timedelta(days=30)).isoformat()}' "
            f"AND s.last_purchase_at >= '{(now - timedelta(days=90)).isoformat()}'",
        ),
        (
            f"birthday in month {month}",
            [{"field": "birthday_month", "value": [month]}],
            f"SELECT COUNT(*) FROM members_member m WHERE {active} AND EXTRACT(MONTH FROM m.birthday) = {month}",
        ),
        (
            "not VIP, 300+ points",
            [{"field": "tags", "op": "none", "value": [vip.pk]}, {"field": "points", "value": {"min": 300}}],
            "SELECT COUNT(*) FROM members_member m JOIN loyalty_pointsaccount p ON p.member_id = m.id "
            f"WHERE {active} AND p.available >= 300 AND NOT EXISTS "
            f"(SELECT 1 FROM members_member_tags t WHERE t.member_id = m.id AND t.tag_id = {vip.pk})",
        ),
        (
            "100+ points expire in 30 d",
            [{"field": "points_expiring", "value": {"days": 30, "min_points": 100}}],
            f"SELECT COUNT(*) FROM members_member m WHERE {active} AND m.id IN (SELECT l.member_id "
            "FROM loyalty_pointslot l WHERE l.remaining > 0 "
            f"AND l.expires_at > '{now.isoformat()}' AND l.expires_at <= '{soon.isoformat()}' "
            "GROUP BY l.member_id HAVING SUM(l.remaining) >= 100)",
        ),
        (
            "top 1,000 by points, store",
            [{"field": "home_store", "value": stores[:1]}, {"field": "top_points", "value": 1000}],
            "SELECT COUNT(*) FROM (SELECT m.id FROM members_member m "
            "LEFT JOIN loyalty_pointsaccount p ON p.member_id = m.id "
            f"WHERE {active} AND m.home_store_id = {stores[0]} "
            "ORDER BY p.available DESC NULLS LAST, m.id LIMIT 1000) top",
        ),
    ]


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--sales-per-member", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the bench database first")
    args = parser.parse_args()
    django_on_bench_database(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL), fresh=args.fresh)
    from django.db import connection

    from campaigns.segments import members_matching
    from members.models import Member

    _prepare(args.members, args.sales_per_member)
    now = datetime.now(UTC)
    raw = connection.connection
    total = Member.objects.count()
    print(f"\nsegment counts, {total:,} members, median of {args.repeat} (ms)")
    header = f"{'segment':<30}{'members':>10}{'ORM ms':>10}{'SQL ms':>10}{'ORM/SQL':>9}"
    print(header)
    print("-" * len(header))
    for name, rules, sql in _scenarios(now):
        orm_ms, orm_count = _median_ms(lambda r=rules: members_matching(r, now=now).count(), args.repeat)

        def by_hand(sql=sql):
            with raw.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchone()[0]

        sql_ms, sql_count = _median_ms(by_hand, args.repeat)
        assert orm_count == sql_count, (name, orm_count, sql_count)
        print(f"{name:<30}{orm_count:>10,}{orm_ms:>10.1f}{sql_ms:>10.1f}{orm_ms / sql_ms:>9.2f}")


if __name__ == "__main__":
    main()
