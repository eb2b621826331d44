"""Generate a chain with many members quickly, straight into PostgreSQL with COPY.

    python -m bench.generate --members 1000000

The rows are what the services would write (E.164 phones, member codes with their check digit,
consent with its time), but they are written set-based so a million members take seconds, not hours.
Later issues extend this with purchase history.
"""

import argparse
import random
import time
from datetime import UTC, datetime, timedelta

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
    columns = (
        "id, code, phone, name, gender, birthday, email, address, home_store_id, registration_store_id, "
        "registration_channel, registered_at, status, marketing_consent, consent_at, consent_source, notes, updated_at"
    )
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
                copy.write_row(
                    (
                        i,
                        body + luhn(body),
                        f"+86{MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]}{i:08d}",
                        rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else ""),
                        ("female", "male", "unknown")[i % 3],
                        None if i % 5 == 0 else f"{1960 + i % 45}-{1 + i % 12:02d}-{1 + i % 28:02d}",
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
    """A cashier serving every bench store, with an API token."""
    from django.contrib.auth import get_user_model
    from rest_framework.authtoken.models import Token

    from stores.models import Store
    from stores.services import staff_create, staff_set_stores

    user = get_user_model().objects.filter(username="bench_cashier").first()
    if user is None:
        user = staff_create(actor=None, username="bench_cashier", password="bench-cashier", role="cashier")
    staff_set_stores(actor=None, user=user, stores=Store.objects.filter(code__startswith="B"))
    Token.objects.get_or_create(user=user)
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


if __name__ == "__main__":
    main()
