"""Generate a chain with many members quickly, straight into PostgreSQL with COPY.

    python -m bench.generate --members 1000000

The rows are what the services would write (E.164 phones, member codes with their check digit,
consent with its time), but they are written set-based so a million members take seconds, not hours.
Later issues extend this with purchase history.
"""

import argparse
import random
import time
from datetime import UTC, date, datetime, timedelta

MOBILE_PREFIXES = [f"13{d}" for d in range(10)] + ["150", "151", "152", "155", "158", "159", "177", "186", "188", "199"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华玉兰萍红玲建国文辉力飞鹏宇浩然轩涵欣怡雨萱佳琪思远嘉"


def luhn(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def generate_members(n: int, *, stores: int = 50, seed: int = 7) -> dict:
    """Insert `n` members (and `stores` stores, tags) into the configured PostgreSQL database."""
    from django.db import connection

    from members.models import Member, Tag
    from stores.models import Region, Store

    rng = random.Random(seed)
    region, _ = Region.objects.get_or_create(code="BENCH", defaults={"name": "基准区"})
    store_ids = [
        Store.objects.get_or_create(code=f"B{i:03d}", defaults={"name": f"基准门店{i}", "region": region})[0].pk
        for i in range(stores)
    ]
    tag_ids = [Tag.objects.get_or_create(name=name)[0].pk for name in ["VIP", "宝妈", "学生", "企业客户", "新客"]]
    start_id = (Member.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    now = datetime.now(UTC)
    phone_field = Member._meta.get_field("phone")
    columns = (
        f"id, code, phone, {', '.join(phone_field.index_columns)}, "
        "name, name_prefix1_index, name_prefix2_index, name_prefix3_index, name_whole_index, "
        "gender, birthday, birth_month, birth_day, email, address, home_store_id, "
        "registration_store_id, "
        "registration_channel, registered_at, status, marketing_consent, consent_at, consent_source, notes, updated_at"
    )
    # The birthday is stored encrypted, as the ORM would write it (members.fields).
    seal = Member._meta.get_field("birthday").seal
    name_field = Member._meta.get_field("name")
    started = time.perf_counter()
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY members_member ({columns}) FROM STDIN") as copy:
            for i in range(start_id, start_id + n):
                store = store_ids[i % len(store_ids)]
                registered = now - timedelta(seconds=rng.randrange(3 * 365 * 86400))
                consent = i % 5 < 3
                body = f"9{i:08d}"
                birthday = None if i % 5 == 0 else date(1960 + i % 45, 1 + i % 12, 1 + i % 28)
                phone = f"+86{MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]}{i:08d}"
                name = rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else "")
                copy.write_row(
                    (
                        i,
                        body + luhn(body),
                        phone_field.seal(phone),
                        *phone_field.blind_indexes(phone),
                        name_field.seal(name),
                        *name_field.blind_indexes(name),
                        ("female", "male", "unknown")[i % 3],
                        seal(birthday),
                        birthday and birthday.month,
                        birthday and birthday.day,
                        "",
                        "",
                        store,
                        store,
                        "store",
                        registered,
                        "frozen" if i % 997 == 0 else "active",
                        consent,
                        registered if consent else None,
                        "tablet" if consent else "",
                        "",
                        registered,
                    )
                )
        with cursor.copy("COPY members_member_tags (member_id, tag_id) FROM STDIN") as copy:
            for i in range(start_id, start_id + n):
                if i % 10 < 3:
                    copy.write_row((i, tag_ids[i % len(tag_ids)]))
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('members_member', 'id'), (SELECT MAX(id) FROM members_member))"
        )
        # A live table is autovacuumed; vacuum here so the visibility map allows index-only scans as it would.
        cursor.execute("VACUUM ANALYZE members_member")
        cursor.execute("VACUUM ANALYZE members_member_tags")
    return {"members": n, "seconds": time.perf_counter() - started, "stores": len(store_ids)}


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--sales-per-member", type=int, default=3, help="purchase history per member (0: none)")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    args = parser.parse_args()
    django_on_bench_database(fresh=args.fresh)
    result = generate_members(args.members)
    rate = result["members"] / result["seconds"]
    print(f"{result['members']:,} members in {result['seconds']:.1f} s ({rate:,.0f}/s)")
    if args.sales_per_member:
        history = generate_history(sales_per_member=args.sales_per_member, cashier_id=bench_cashier().pk)
        print(f"{history['sales']:,} sales of history in {history['seconds']:.1f} s")


def bench_cashier():
    """A cashier serving every bench store (bench/checkout.py gives it an API token)."""
    from django.contrib.auth import get_user_model

    from stores.models import Store
    from stores.services import staff_create, staff_set_stores

    user = get_user_model().objects.filter(username="bench_cashier").first()
    if user is None:
        user = staff_create(actor=None, username="bench_cashier", password="bench-cashier", role="cashier")
    staff_set_stores(actor=None, user=user, stores=Store.objects.filter(code__startswith="B"))
    return user


CATEGORIES = [("饮品", 18, 38), ("烘焙", 12, 45), ("零食", 8, 30), ("日用品", 15, 120), ("生鲜", 20, 160)]


def generate_history(*, sales_per_member: int = 3, seed: int = 11, cashier_id: int) -> dict:
    """Give every member without history `sales_per_member` sales over the past year, with their
    ledger: an earn entry and its lot per sale, the points account, statistics and daily spend.

    The rows match what sale_checkout writes for a cash sale earning 1 point per ¥1, so
    `reconcile_ledger` passes on the result.
    """
    from django.db import connection

    from loyalty.models import EarningRule, LoyaltySettings, MemberStats, Tier

    LoyaltySettings.current()
    if not EarningRule.objects.exists():
        EarningRule.objects.create(name="基础积分", points_per_yuan=1)
    if not Tier.objects.exists():
        # Tiers with points multipliers but no discount: the checkout bench's tills then know what is
        # due without knowing each member's tier, and every sale still runs the upgrade check.
        for rank, (code, name, threshold, multiplier) in enumerate(
            [
                ("NORMAL", "普通", 0, 1),
                ("SILVER", "银卡", 1000, 1.2),
                ("GOLD", "金卡", 3000, 1.5),
                ("DIAMOND", "钻石", 8000, 2),
            ]
        ):
            Tier.objects.create(code=code, name=name, rank=rank, threshold=threshold, points_multiplier=multiplier)
    rng = random.Random(seed)
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute(
            "SELECT m.id, m.home_store_id FROM members_member m "
            "WHERE NOT EXISTS (SELECT 1 FROM loyalty_memberstats s WHERE s.member_id = m.id) ORDER BY m.id"
        )
        members = cursor.fetchall()
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_sale")
        sale_id = cursor.fetchone()[0]
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_pointsentry")
        entry_id = cursor.fetchone()[0]
    now = datetime.now(UTC)
    started = time.perf_counter()
    sales, lines, tenders, entries, lots, accounts, stats, daily = [], [], [], [], [], [], [], []
    for member_id, store_id in members:
        total_points = 0
        total_spend = 0
        first = last = None
        days = {}
        for _n in range(sales_per_member):
            sale_id += 1
            entry_id += 1
            at = now - timedelta(seconds=rng.randrange(360 * 86400))
            category, low, high = CATEGORIES[rng.randrange(len(CATEGORIES))]
            quantity = rng.randrange(1, 4)
            price = rng.randrange(low * 100, high * 100) / 100
            amount = round(quantity * price, 2)
            points = int(amount)
            sales.append(
                (
                    sale_id,
                    f"hist-{sale_id}",
                    "",
                    store_id,
                    cashier_id,
                    member_id,
                    "completed",
                    amount,
                    0,
                    0,
                    "",
                    0,
                    0,
                    amount,
                    amount,
                    0,
                    0,
                    points,
                    amount,
                    0,
                    None,
                    at,
                    "till",
                    "store",
                )
            )
            lines.append((sale_id, sale_id, 1, category, "", quantity, price, amount, amount, 0))
            tenders.append((sale_id, sale_id, "cash", amount))
            entries.append(
                (
                    entry_id,
                    member_id,
                    "earn",
                    points,
                    0,
                    f"sale:{sale_id}:earn",
                    store_id,
                    cashier_id,
                    sale_id,
                    None,
                    "",
                    at,
                )
            )
            if points:
                lots.append((entry_id, member_id, entry_id, points, points, at, at + timedelta(days=366), False, at))
            total_points += points
            total_spend += amount
            first = at if first is None or at < first else first
            last = at if last is None or at > last else last
            key = at.date()
            spend, visits, pts = days.get(key, (0, 0, 0))
            days[key] = (spend + amount, visits + 1, pts + points)
        accounts.append((member_id, total_points, 0, 0, total_points, now))
        stats.append((member_id, None, None, first, last, sales_per_member, round(total_spend, 2), 0))
        for d, (spend, visits, pts) in days.items():
            daily.append((member_id, d, round(spend, 2), visits, pts))
    tables = [
        (
            "loyalty_sale",
            "id, request_id, payload_hash, store_id, cashier_id, member_id, status, subtotal, tier_discount, "
            "coupon_discount, coupon_code, points_redeemed, points_value, total_due, paid_money, paid_principal, "
            "paid_bonus, points_earned, points_eligible_amount, refunded_amount, client_time, created_at, "
            "source, channel",
            sales,
        ),
        (
            "loyalty_saleline",
            "id, sale_id, line_no, category, sku, quantity, unit_price, amount, net_amount, refunded_quantity",
            lines,
        ),
        ("loyalty_saletender", "id, sale_id, kind, amount", tenders),
        (
            "loyalty_pointsentry",
            "id, member_id, kind, points, debt, idempotency_key, store_id, staff_id, sale_id, "
            "refund_id, reason, created_at",
            entries,
        ),
        (
            "loyalty_pointslot",
            "id, member_id, entry_id, points, remaining, available_at, expires_at, is_pending, created_at",
            lots,
        ),
        ("loyalty_pointsaccount", "member_id, available, pending, debt, lifetime_earned, updated_at", accounts),
        (
            "loyalty_memberstats",
            "member_id, tier_id, tier_since, first_purchase_at, last_purchase_at, purchase_count, "
            "total_spend, total_refunded",
            stats,
        ),
        ("loyalty_memberdailyspend", "member_id, day, spend, visits, points_earned", daily),
    ]
    with raw.cursor() as cursor:
        for table, columns, rows in tables:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        for table in (
            "loyalty_sale",
            "loyalty_saleline",
            "loyalty_saletender",
            "loyalty_pointsentry",
            "loyalty_pointslot",
            "loyalty_memberdailyspend",
        ):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        for table, _columns, _rows in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")
    assert MemberStats.objects.count() >= len(members)
    return {"members": len(members), "sales": len(sales), "seconds": time.perf_counter() - started}


def generate_sales_history(
    *, sales: int, days: int = 730, cashier_id: int, seed: float = 0.42, verbose: bool = True
) -> dict:
    """About `sales` sales over the past `days` for the members without statistics, set-based in SQL
    (INSERT … SELECT over generate_series: ten million sales take minutes, not hours), with their lines,
    daily spend and statistics.

    Each member who buys (19 in 20) gets a first purchase up to `days` ago, a last possible purchase
    between then and today (a cubed uniform: most are still active, some lapsed long ago), and a number
    of purchases drawn from a heavy-tailed distribution scaled so the chain's total is about `sales`.
    One member in ten is a bargain hunter (70 % of sales with a coupon or points, against 15 % for the
    others); one in seven moved part of their spend to another category in the last 120 days.

    Only what analytics reads is written: sales, lines, daily spend and statistics. There is no points
    ledger or tender behind these sales, so `reconcile_ledger` is not meaningful on this history (use
    `generate_history` for that).
    """
    from django.db import connection, transaction

    started = lap = time.perf_counter()

    def _lap(what: str) -> None:
        nonlocal lap
        now = time.perf_counter()
        if verbose:
            print(f"  {what}: {now - lap:.1f} s", flush=True)
        lap = now

    connection.ensure_connection()
    raw = connection.connection
    categories = "ARRAY[" + ", ".join(f"'{name}'" for name, _low, _high in CATEGORIES) + "]"
    with transaction.atomic(), raw.cursor() as cursor:
        # The rows reference existing members, stores and the cashier by construction; without this the
        # deferred foreign-key checks of ~40M rows run at COMMIT (about 15 minutes on the 2-core machine).
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("SELECT setseed(%s)", [seed])
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM loyalty_sale")
        first_sale = cursor.fetchone()[0]
        cursor.execute(
            """
            CREATE TEMP TABLE bench_plan ON COMMIT DROP AS
            SELECT m.id AS member_id, m.home_store_id AS store_id, random() < 0.1 AS bargain,
                   %(days)s * random() AS first_ago, random() AS lapse, power(-ln(1 - random()), 1.6) AS weight
            FROM members_member m
            WHERE m.id %% 20 <> 0
              AND NOT EXISTS (SELECT 1 FROM loyalty_memberstats s WHERE s.member_id = m.id)
            """,
            {"days": days},
        )
        cursor.execute("SELECT COALESCE(SUM(weight), 0) FROM bench_plan")
        total_weight = float(cursor.fetchone()[0]) or 1.0
        _lap("plan")
        cursor.execute(
            """
            INSERT INTO loyalty_sale (
                request_id, payload_hash, store_id, cashier_id, member_id, status, subtotal, tier_discount,
                coupon_discount, coupon_code, points_redeemed, points_value, total_due, paid_money, paid_principal,
                paid_bonus, points_earned, points_eligible_amount, refunded_amount, client_time, created_at, source,
                channel)
            SELECT request_id, '', store_id, %(cashier)s, member_id, 'completed', subtotal, 0, coupon, '', points * 100,
                   points, subtotal - coupon - points, subtotal - coupon - points, 0, 0, 0, 0, 0, NULL, at, 'import',
                   'store'
            FROM (
                SELECT 'bench-an-' || p.member_id || '-' || g AS request_id, p.store_id, p.member_id, x.at, x.subtotal,
                       CASE WHEN x.promo AND x.kind < 0.6 THEN round(x.subtotal * 0.1, 2) ELSE 0 END AS coupon,
                       CASE WHEN x.promo AND x.kind >= 0.6 THEN round(x.subtotal * 0.05, 2) ELSE 0 END AS points
                FROM bench_plan p
                CROSS JOIN LATERAL generate_series(
                    1, GREATEST(1, round(p.weight * %(sales)s / %(total)s)::int)) AS g
                CROSS JOIN LATERAL (
                    SELECT now() - make_interval(secs => 86400 * (
                               p.first_ago * power(p.lapse, 3)
                               + random() * (p.first_ago - p.first_ago * power(p.lapse, 3)))) AS at,
                           round((10 + random() * 290)::numeric, 2) AS subtotal,
                           random() < CASE WHEN p.bargain THEN 0.7 ELSE 0.15 END AS promo,
                           random() AS kind,
                           g AS n
                ) AS x
            ) AS planned
            """,
            {"cashier": cashier_id, "sales": sales, "total": total_weight},
        )
        _lap("sales")
        cursor.execute(
            f"""
            INSERT INTO loyalty_saleline (
                sale_id, line_no, category, sku, quantity, unit_price, amount, net_amount, refunded_quantity)
            SELECT s.id, 1,
                   ({categories})[1 + (s.member_id * 7 + floor(random() * 3)::int
                       + CASE WHEN s.member_id %% 7 = 0 AND s.created_at > now() - interval '120 days' THEN 2
                              ELSE 0 END) %% 5],
                   '', 1, s.subtotal, s.subtotal, s.subtotal - s.coupon_discount, 0
            FROM loyalty_sale s WHERE s.id > %(first)s
            """,
            {"first": first_sale},
        )
        _lap("lines")
        cursor.execute(
            """
            INSERT INTO loyalty_memberdailyspend (member_id, day, spend, visits, points_earned)
            SELECT member_id, (created_at AT TIME ZONE 'Asia/Shanghai')::date, SUM(paid_money), COUNT(*), 0
            FROM loyalty_sale WHERE id > %(first)s GROUP BY 1, 2
            """,
            {"first": first_sale},
        )
        _lap("daily spend")
        cursor.execute(
            """
            INSERT INTO loyalty_memberstats (
                member_id, tier_id, tier_since, first_purchase_at, last_purchase_at, purchase_count, total_spend,
                total_refunded)
            SELECT member_id, NULL, NULL, MIN(created_at), MAX(created_at), COUNT(*), SUM(paid_money), 0
            FROM loyalty_sale WHERE id > %(first)s GROUP BY member_id
            """,
            {"first": first_sale},
        )
        _lap("statistics")
        cursor.execute("SELECT COUNT(*) FROM loyalty_sale WHERE id > %s", [first_sale])
        made = cursor.fetchone()[0]
    with raw.cursor() as cursor:
        for table in ("loyalty_sale", "loyalty_saleline", "loyalty_memberdailyspend", "loyalty_memberstats"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    _lap("vacuum")
    return {"sales": made, "seconds": time.perf_counter() - started}


if __name__ == "__main__":
    main()
