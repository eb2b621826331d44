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
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    args = parser.parse_args()
    django_on_bench_database(fresh=args.fresh)
    result = generate_members(args.members)
    print(
        f"{result['members']:,} members in {result['seconds']:.1f} s ({result['members'] / result['seconds']:,.0f}/s)"
    )


if __name__ == "__main__":
    main()
