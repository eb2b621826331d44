"""The members export at chain scale: a million members to CSV (and XLSX) through the export service.

    python -m bench.export_members --members 1000000

Fills a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench;
recreated unless --reuse) with `bench.generate`'s members (COPY) plus synthetic balances written
set-based: a points account for two members in three, a wallet for one in five and a tier for one in
two. The balances are not backed by ledger entries, so `reconcile_ledger` fails on this database; the
other benchmarks recreate it by default.

Each export runs in a child process, exactly as `export_members` writes a file (members.exports →
config.tabular, HQ admin, the default 14 columns, chunks of 2,000), so the parent reads its peak memory
from resource.getrusage(RUSAGE_CHILDREN).ru_maxrss. A first child only starts Django and connects: the
memory a Django process has before it exports anything.

Reference in the same run: PostgreSQL's own `COPY (SELECT …) TO STDOUT WITH (FORMAT csv)` of the same
columns (national phones, local times, tags aggregated, balances, tier), written to a file by psycopg.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

COPY_SQL = """
COPY (
  SELECT CASE WHEN m.phone LIKE '+86%%' THEN substr(m.phone, 4) ELSE m.phone END,
         m.name,
         CASE m.gender WHEN 'female' THEN '女' WHEN 'male' THEN '男' ELSE '' END,
         m.birthday,
         m.email,
         s.code,
         (SELECT string_agg(t.name, ',' ORDER BY t.name)
            FROM members_member_tags mt JOIN members_tag t ON t.id = mt.tag_id WHERE mt.member_id = m.id),
         to_char(m.registered_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'),
         COALESCE(pa.available + pa.pending, 0),
         COALESCE(w.principal + w.bonus, 0.00),
         CASE WHEN r.phone LIKE '+86%%' THEN substr(r.phone, 4) ELSE r.phone END,
         m.code,
         CASE m.status WHEN 'active' THEN '正常' ELSE '已冻结' END,
         COALESCE(tier.name, (SELECT name FROM loyalty_tier WHERE threshold = 0 ORDER BY rank LIMIT 1))
    FROM members_member m
    LEFT JOIN stores_store s ON s.id = m.home_store_id
    LEFT JOIN members_member r ON r.id = m.referrer_id
    LEFT JOIN loyalty_pointsaccount pa ON pa.member_id = m.id
    LEFT JOIN loyalty_wallet w ON w.member_id = m.id
    LEFT JOIN loyalty_memberstats st ON st.member_id = m.id
    LEFT JOIN loyalty_tier tier ON tier.id = st.tier_id
   ORDER BY m.id
) TO STDOUT WITH (FORMAT csv, HEADER)
"""


def add_balances() -> dict:
    """Points accounts, wallets and tiers for the members that have none, set-based."""
    from django.db import connection

    from loyalty.models import Tier

    if not Tier.objects.exists():
        for rank, (code, name, threshold) in enumerate(
            [("NORMAL", "普通会员", 0), ("SILVER", "银卡", 1000), ("GOLD", "金卡", 3000), ("DIAMOND", "钻石", 8000)]
        ):
            Tier.objects.create(code=code, name=name, rank=rank, threshold=threshold)
    tier_ids = list(Tier.objects.order_by("rank").values_list("id", flat=True))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO loyalty_pointsaccount (member_id, available, pending, debt, lifetime_earned, updated_at) "
            "SELECT m.id, (m.id * 37) %% 5000, (m.id %% 7) * 10, 0, (m.id * 37) %% 5000 + 500, now() "
            "FROM members_member m WHERE m.id %% 3 <> 0 "
            "AND NOT EXISTS (SELECT 1 FROM loyalty_pointsaccount p WHERE p.member_id = m.id)",
            [],
        )
        cursor.execute(
            "INSERT INTO loyalty_wallet (member_id, principal, bonus, updated_at) "
            "SELECT m.id, (m.id %% 50) * 10, (m.id %% 5) * 5, now() FROM members_member m WHERE m.id %% 5 = 0 "
            "AND NOT EXISTS (SELECT 1 FROM loyalty_wallet w WHERE w.member_id = m.id)",
            [],
        )
        cursor.execute(
            "INSERT INTO loyalty_memberstats (member_id, tier_id, tier_since, purchase_count, total_spend, "
            "total_refunded) SELECT m.id, (ARRAY[%s, %s, %s])[1 + (m.id / 2) %% 3], now(), 3, 300, 0 "
            "FROM members_member m WHERE m.id %% 2 = 0 "
            "AND NOT EXISTS (SELECT 1 FROM loyalty_memberstats s WHERE s.member_id = m.id)",
            tier_ids[1:4],
        )
        for table in ("loyalty_pointsaccount", "loyalty_wallet", "loyalty_memberstats"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"seconds": time.perf_counter() - started}


def bench_admin():
    from django.contrib.auth import get_user_model

    from stores.services import staff_create

    user = get_user_model().objects.filter(username="bench_admin").first()
    return user or staff_create(actor=None, username="bench_admin", password="bench", role="hq_admin")


# --- the child: one export, as the command writes it -------------------------------------------


def child(kind: str, out: str | None, chunk_size: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_DEBUG"] = "0"  # DEBUG would keep every query in memory
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from members.exports import member_export_prepare
    from members.models import Member

    connection.ensure_connection()
    result = {"kind": kind}
    if kind != "baseline":
        actor = get_user_model().objects.get(username="bench_admin")
        started = time.perf_counter()
        export = member_export_prepare(
            actor=actor,
            queryset=Member.objects.all(),
            columns=None,
            fmt=kind,
            filters="",
            source="bench",
            chunk_size=chunk_size,
        )
        export.write_to(out)
        result.update(rows=export.count, seconds=time.perf_counter() - started, bytes=Path(out).stat().st_size)
    result["self_maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


def run_child(kind: str, out: Path, url: str, chunk_size: int) -> dict:
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.export_members",
            "--child",
            kind,
            "--out",
            str(out),
            "--chunk-size",
            str(chunk_size),
        ],
        env=env,
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall"] = time.perf_counter() - started
    # The largest resident set of any child waited for so far (kB on Linux): the children run
    # smallest first (baseline, CSV, XLSX), and each also reports its own.
    result["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return result


def copy_reference(url: str, out: Path) -> dict:
    import psycopg

    started = time.perf_counter()
    with (
        psycopg.connect(url) as conn,
        conn.cursor() as cursor,
        open(out, "wb") as target,
        cursor.copy(COPY_SQL.replace("%%", "%")) as copy,
    ):
        for data in copy:
            target.write(data)
    seconds = time.perf_counter() - started
    with open(out, "rb") as f:
        rows = sum(1 for _line in f) - 1
    return {"rows": rows, "seconds": seconds, "bytes": out.stat().st_size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database")
    parser.add_argument("--no-xlsx", action="store_true", help="skip the XLSX export (about a minute at 1M rows)")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--out-dir", default="/tmp", help="where the exported files go (deleted at the end)")
    parser.add_argument("--child", choices=["baseline", "csv", "xlsx"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.out, args.chunk_size)
        return

    from bench._setup import django_on_bench_database

    url = django_on_bench_database(fresh=not args.reuse)
    from django.db import connection

    from bench.generate import generate_members
    from members.models import Member

    existing = Member.objects.count()
    if existing < args.members:
        result = generate_members(args.members - existing)
        print(f"generated {result['members']:,} members in {result['seconds']:.1f} s")
    balances = add_balances()
    print(f"balances and tiers in {balances['seconds']:.1f} s")
    bench_admin()
    connection.close()

    out_dir = Path(args.out_dir)
    files = {kind: out_dir / f"bench-export-members.{kind}" for kind in ("csv", "xlsx", "copy.csv", "baseline")}
    try:
        baseline = run_child("baseline", files["baseline"], url, args.chunk_size)
        runs = [("CSV", run_child("csv", files["csv"], url, args.chunk_size))]
        if not args.no_xlsx:
            runs.append(("XLSX", run_child("xlsx", files["xlsx"], url, args.chunk_size)))
        reference = copy_reference(url, files["copy.csv"])
    finally:
        for path in files.values():
            path.unlink(missing_ok=True)

    copy_rate = reference["rows"] / reference["seconds"]
    print(f"\nmembers export, {reference['rows']:,} members, 14 columns, chunks of {args.chunk_size:,}")
    header = f"{'':<34}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}{'file MB':>9}{'vs COPY':>9}"
    print(header)
    print("-" * len(header))
    for label, run in runs:
        rate = run["rows"] / run["seconds"]
        print(
            f"{'export service, ' + label:<34}{run['rows']:>11,}{run['seconds']:>9.1f}{rate:>10,.0f}"
            f"{run['children_maxrss_kb'] / 1024:>9.0f}{run['bytes'] / 1e6:>9.1f}{rate / copy_rate:>9.1%}"
        )
    print(
        f"{'PostgreSQL COPY … TO STDOUT (csv)':<34}{reference['rows']:>11,}{reference['seconds']:>9.1f}"
        f"{copy_rate:>10,.0f}{'':>9}{reference['bytes'] / 1e6:>9.1f}{1:>9.0%}"
    )
    print(
        f"\npeak memory (RUSAGE_CHILDREN ru_maxrss, the largest child so far): Django started and connected, "
        f"nothing exported: {baseline['children_maxrss_kb'] / 1024:.0f} MB; each child's own: "
        + ", ".join(f"{label} {run['self_maxrss_kb'] / 1024:.0f} MB" for label, run in runs)
    )


if __name__ == "__main__":
    main()
