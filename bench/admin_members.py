"""The members changelist at chain scale: does the back office stay fast with a million members?

    python -m bench.admin_members --members 1000000

Builds a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench)
with that many members, then requests the HQ admin's members changelist for typical searches and
filters through Django's test client (no network), timing each page and counting its queries.

Reference, measured in the same run: the page's own SQL run directly on PostgreSQL through psycopg
(the floor any ORM page could reach), and the `SELECT COUNT(*)` that a stock Django admin would run
on every page view.
"""

import argparse
import statistics
import time


def _median_ms(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database of the right size")
    args = parser.parse_args()

    django_on_bench_database(fresh=not args.reuse)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from bench.generate import generate_members
    from members.models import Member, Tag
    from stores.models import Store
    from stores.services import staff_create

    setup_test_environment()  # so responses carry their template context
    existing = Member.objects.count()
    if existing < args.members:
        result = generate_members(args.members - existing)
        print(f"generated {result['members']:,} members in {result['seconds']:.1f} s")
    User = get_user_model()
    admin = User.objects.filter(username="bench_admin").first() or staff_create(
        actor=None, username="bench_admin", password="bench", role="hq_admin"
    )
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(admin)

    sample = Member.objects.order_by("id")[args.members // 2]
    store = Store.objects.order_by("code").first()
    tag = Tag.objects.get(name="VIP")
    scenarios = [
        ("first page, no filter", {}),
        ("exact phone", {"q": sample.phone_digits}),
        ("phone prefix (3 digits)", {"q": sample.phone_digits[:3]}),
        ("phone prefix (5 digits)", {"q": sample.phone_digits[:5]}),
        ("phone prefix (7 digits)", {"q": sample.phone_digits[:7]}),
        ("phone prefix (9 digits)", {"q": sample.phone_digits[:9]}),
        ("member code", {"q": sample.code}),
        ("name prefix 王芳", {"q": "王芳"}),
        ("store filter", {"home_store__id__exact": store.pk}),
        ("tag filter", {"tag": tag.pk}),
        ("status frozen", {"status__exact": "frozen"}),
        ("page 200", {"p": 200}),
    ]
    url = "/admin/members/member/"
    client.get(url)  # warm-up

    raw = connection.connection
    print(f"\nmembers changelist, {Member.objects.count():,} members, median of {args.repeat}")
    header = f"{'scenario':<24}{'page ms':>9}{'queries':>9}{'SQL ms':>9}{'page/SQL':>10}{'rows':>7}"
    print(header)
    print("-" * len(header))
    for name, params in scenarios:
        if "q" in params:
            # The search box POSTs; the list is then read at an address with a token for the search
            # (config.admin_search), which is what is measured.
            searched = client.post(url, params)
            assert searched.status_code == 302, (name, searched.status_code)
            page_url, params = searched["Location"], {}
        else:
            page_url = url
        with CaptureQueriesContext(connection) as captured:
            response = client.get(page_url, params)
        assert response.status_code == 200, (name, response.status_code)
        rows = len(response.context["cl"].result_list)
        queries = [q["sql"] for q in captured.captured_queries]
        page_ms = _median_ms(lambda u=page_url, p=params: client.get(u, p), args.repeat)

        def run_sql(queries=queries):
            with raw.cursor() as cursor:
                for sql in queries:
                    cursor.execute(sql.replace("%", "%%"))
                    if cursor.description:
                        cursor.fetchall()

        sql_ms = _median_ms(run_sql, args.repeat)
        print(f"{name:<24}{page_ms:>9.1f}{len(queries):>9}{sql_ms:>9.1f}{page_ms / sql_ms:>10.1f}{rows:>7}")

    def full_count():
        with raw.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM members_member")
            cursor.fetchone()

    print(
        f"\nreference: SELECT COUNT(*) FROM members_member (what the stock admin runs per page): "
        f"{_median_ms(full_count, args.repeat):.1f} ms"
    )


if __name__ == "__main__":
    main()
