"""Counting segments at chain scale: members_matching(rules).count() next to the same count written by hand.

    python -m bench.segments --members 1000000

Builds a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench_segments)
with that many members (bench.generate) and, for six in seven of them, purchase statistics, a tier by
spend, a points balance and a lot expiring within the coming year; then counts typical segments two
ways, each the median of --repeat runs:

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


def _history(seed: int = 11) -> dict:
    """Statistics, tiers, points accounts and one open points lot (with its earn entry) for every member
    without statistics, by COPY, streamed. (bench.generate's sale history would do, but segments read
    only these tables; the lots expire over the coming year, as a year-old history's would.)"""
    import random

    from django.db import connection

    from loyalty.models import LoyaltySettings, Tier

    LoyaltySettings.current()
    if not Tier.objects.exists():
        for rank, (code, name, threshold) in enumerate(
            [("NORMAL", "普通", 0), ("SILVER", "银卡", 1000), ("GOLD", "金卡", 3000), ("DIAMOND", "钻石", 8000)]
        ):
            Tier.objects.create(code=code, name=name, rank=rank, threshold=threshold)
    tiers = sorted(Tier.objects.values_list("threshold", "pk"))
    rng = random.Random(seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT m.id, m.home_store_id FROM members_member m WHERE NOT EXISTS "
            "(SELECT 1 FROM loyalty_memberstats s WHERE s.member_id = m.id) ORDER BY m.id"
        )
        members = cursor.fetchall()
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_pointsentry")
        entry_id = cursor.fetchone()[0]
    rows = {"stats": [], "accounts": [], "entries": [], "lots": []}
    for member_id, store_id in members:
        visits = rng.choice([0, 1, 1, 2, 3, 5, 8, 13])
        if not visits:
            continue
        spend = round(visits * rng.uniform(20, 400), 2)
        last = now - timedelta(seconds=rng.randrange(365 * 86400))
        first = last - timedelta(seconds=rng.randrange(365 * 86400))
        tier = max(pk for threshold, pk in tiers if threshold <= spend)
        points = int(spend)
        entry_id += 1
        rows["stats"].append((member_id, tier, first, first, last, visits, spend, 0))
        rows["accounts"].append((member_id, points, 0, 0, points, now))
        rows["entries"].append((entry_id, member_id, "earn", points, 0, f"bench:{entry_id}", store_id, "", last))
        if points:
            expires = now + timedelta(seconds=rng.randrange(365 * 86400))
            rows["lots"].append((entry_id, member_id, entry_id, points, points, last, expires, False, last))
    tables = [
        (
            "loyalty_memberstats",
            "member_id, tier_id, tier_since, first_purchase_at, last_purchase_at, purchase_count, "
            "total_spend, total_refunded",
            rows["stats"],
        ),
        ("loyalty_pointsaccount", "member_id, available, pending, debt, lifetime_earned, updated_at", rows["accounts"]),
        (
            "loyalty_pointsentry",
            "id, member_id, kind, points, debt, idempotency_key, store_id, reason, created_at",
            rows["entries"],
        ),
        (
            "loyalty_pointslot",
            "id, member_id, entry_id, points, remaining, available_at, expires_at, is_pending, created_at",
            rows["lots"],
        ),
    ]
    with raw.cursor() as cursor:
        for table, columns, data in tables:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        for table in ("loyalty_pointsentry", "loyalty_pointslot"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        for table, _columns, _data in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"members": len(rows["stats"]), "seconds": time.perf_counter() - started}


def _prepare(members: int) -> None:
    from bench.generate import generate_members
    from members.models import Member

    existing = Member.objects.count()
    if existing < members:
        result = generate_members(members - existing)
        print(f"generated {result['members']:,} members in {result['seconds']:.1f} s")
    history = _history()
    if history["members"]:
        print(f"gave {history['members']:,} members purchase statistics and points in {history['seconds']:.1f} s")


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
            f"SELECT COUNT(*) FROM members_member m WHERE {active} AND m.birth_month = {month}",
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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="drop and rebuild the bench database first")
    args = parser.parse_args()
    django_on_bench_database(os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL), fresh=args.fresh)
    from django.db import connection

    from campaigns.segments import members_matching
    from members.models import Member

    _prepare(args.members)
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
