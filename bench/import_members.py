"""The members import at chain scale: how fast, and in how much memory, does a members CSV go in?

    python -m bench.import_members --rows 100000
    python -m bench.import_members --rows 1000000

Generates a realistic members file the way a chain brings one from its previous system (Chinese
headers, UTF-8 with BOM as Excel saves it, phones typed every way, names, genders, birthdays in two
formats, e-mails, store codes, tags, registration times, opening points for 40 % of the members and
stored value for 15 %, referrers for 5 %), then into a fresh bench database (BENCH_DATABASE_URL,
default postgres://postgres@127.0.0.1:5432/loyalty_bench_import):

1. reference: PostgreSQL's own COPY of the same file into a plain table of text columns;
2. the import, in a child process, through members_import() as `import_members` calls it (reading,
   validation, staging, checks, the upsert, tags, referrers, opening balances as ledger entries, all
   in one transaction). Its peak memory is the child's maximum resident set (RUSAGE_CHILDREN);
3. with --again, the same file a second time (it must change nothing);
4. for scale, django-import-export's own row-by-row import (MemberResource.import_data) of 2,000 other
   members of the same shape.

Prints rows/s of both, their ratio and the peak memory, and checks the ledger (reconcile) and counts.
"""

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_import"
HEADER = [
    "手机号",
    "姓名",
    "性别",
    "生日",
    "邮箱",
    "门店编码",
    "标签",
    "注册时间",
    "积分余额",
    "储值余额",
    "推荐人手机号",
]
STORES = 50


def _phone_digits(i: int) -> str:
    from bench.generate import MOBILE_PREFIXES

    # Unique for every i below 10^8: 7919 is prime to 10^8, so i ↦ i·7919 mod 10^8 is a permutation.
    return f"{MOBILE_PREFIXES[i % len(MOBILE_PREFIXES)]}{(i * 7919 + 12345) % 100_000_000:08d}"


def _typed(digits: str, style: int) -> str:
    """A phone as people type it: mostly bare digits, else with spaces, dashes and country codes."""
    if style < 6:
        return digits
    if style == 6:
        return f"{digits[:3]} {digits[3:7]} {digits[7:]}"
    if style == 7:
        return f"+86 {digits[:3]}-{digits[3:7]}-{digits[7:]}"
    if style == 8:
        return "+86" + digits
    return "0086 " + digits


def generate_rows(rows: int, *, start: int = 0, seed: int = 20261124):
    """Rows of cells as HEADER orders them; phones unique for i in [start, start + rows)."""
    from bench.generate import GIVEN, SURNAMES

    rng = random.Random(seed + start)
    now = datetime.now(UTC)
    tags = ["VIP", "宝妈;学生", "新客|VIP", "企业客户", "学生，新客"]
    for i in range(start, start + rows):
        digits = _phone_digits(i)
        birthday = ""
        if rng.random() < 0.7:
            y, m, d = rng.randrange(1950, 2008), rng.randrange(1, 13), rng.randrange(1, 29)
            birthday = f"{y}-{m:02d}-{d:02d}" if i % 4 else f"{y}/{m}/{d}"
        registered = ""
        if rng.random() < 0.9:
            registered = (now - timedelta(seconds=rng.randrange(5 * 365 * 86400))).strftime("%Y-%m-%d %H:%M:%S")
        referrer = ""
        if i - start > 100 and rng.random() < 0.05:
            referrer = _typed(_phone_digits(rng.randrange(start, i)), rng.randrange(10))
        yield [
            _typed(digits, rng.randrange(10)),
            rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if i % 3 else ""),
            rng.choice(["男", "女", "女", "未知", "", "F", "male"]),
            birthday,
            f"member{i}@example.com" if rng.random() < 0.15 else "",
            f"B{rng.randrange(STORES):03d}" if rng.random() < 0.9 else "",
            rng.choice(tags) if rng.random() < 0.3 else "",
            registered,
            str(rng.randrange(1, 20000)) if rng.random() < 0.4 else "",
            f"{rng.randrange(1, 200000) / 100:.2f}" if rng.random() < 0.15 else "",
            referrer,
        ]


def generate_file(rows: int, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        out.write(",".join(HEADER) + "\r\n")
        for cells in generate_rows(rows):
            out.write(",".join(f'"{c}"' if ("," in c or "，" in c) else c for c in cells) + "\r\n")


def copy_reference(url: str, path: Path) -> float:
    """Seconds PostgreSQL's COPY takes to load the file into a plain table of text columns."""
    import psycopg

    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy_reference")
        conn.execute(f"CREATE TABLE bench_copy_reference ({columns})")
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            path.open("rb") as source,
            cursor.copy("COPY bench_copy_reference FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while data := source.read(1 << 20):
                copy.write(data)
        seconds = time.perf_counter() - started
        (loaded,) = conn.execute("SELECT COUNT(*) FROM bench_copy_reference").fetchone()
        conn.execute("DROP TABLE bench_copy_reference")
    return seconds, loaded


def child(path: Path, url: str) -> None:
    """Run one import in this process and print its result as JSON (the parent measures memory)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from members.imports.service import members_import

    actor = get_user_model().objects.get(username="bench_admin")
    started = time.perf_counter()
    result = members_import(open_source=lambda: path.open("rb"), file_name=path.name, actor=actor)
    seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "seconds": seconds,
                "rows": result.rows,
                "created": result.created,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "rejected": result.rejected,
                "errors": result.errors[:5],
                "extra": result.extra,
            }
        )
    )


def import_export_child(rows: int, url: str) -> None:
    """django-import-export's own row-by-row import of `rows` members (profile columns only: opening
    balances need the set-based import), on phones the main file does not use; prints JSON."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    import tablib

    from members.resources import MemberResource

    profile = HEADER[:8] + HEADER[10:]
    dataset = tablib.Dataset(headers=profile)
    for cells in generate_rows(rows, start=50_000_000):
        dataset.append(cells[:8] + cells[10:])
    started = time.perf_counter()
    result = MemberResource().import_data(dataset, dry_run=False, raise_errors=False)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": rows, "invalid": len(result.invalid_rows)}))


def run_child(path: Path, url: str, *extra: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.import_members", "--child", str(path), "--url", url, *extra],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare_database(url: str) -> None:
    from bench._setup import django_on_bench_database

    django_on_bench_database(url, fresh=True)
    from loyalty.models import LoyaltySettings
    from stores.models import Region, Store
    from stores.services import staff_create

    region, _ = Region.objects.get_or_create(code="BENCH", defaults={"name": "基准区"})
    Store.objects.bulk_create([Store(code=f"B{i:03d}", name=f"基准门店{i}", region=region) for i in range(STORES)])
    LoyaltySettings.current()
    staff_create(actor=None, username="bench_admin", password="bench-admin", role="hq_admin")
    from django.db import connections

    connections.close_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--again", action="store_true", help="import the same file a second time")
    parser.add_argument(
        "--import-export-rows", type=int, default=2_000, help="rows for the django-import-export reference (0: skip)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-import-export", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if args.child_import_export:
        import_export_child(args.child_import_export, args.url)
        return
    if args.child:
        child(Path(args.child), args.url)
        return

    path = OUT / f"members_{args.rows}.csv"
    if not path.exists():
        started = time.perf_counter()
        generate_file(args.rows, path)
        seconds = time.perf_counter() - started
        print(f"generated {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.1f} s")
    prepare_database(args.url)

    copy_seconds, loaded = copy_reference(args.url, path)
    copy_rate = loaded / copy_seconds
    ie = None
    if args.import_export_rows:
        ie = run_child(path, args.url, "--child-import-export", str(args.import_export_rows))
    # The children run one after the other; RUSAGE_CHILDREN keeps the largest resident set of any.
    # The import-export reference is small, so the peak is the import's.
    first = run_child(path, args.url)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rate = first["rows"] / first["seconds"]
    print(f"\nmembers import of {args.rows:,} rows ({path.stat().st_size / 1e6:.0f} MB), PostgreSQL, same run:")
    print(f"  reference COPY into a text table   {copy_seconds:8.1f} s  {copy_rate:12,.0f} rows/s")
    print(f"  import_members (validated, upsert) {first['seconds']:8.1f} s  {rate:12,.0f} rows/s")
    print(f"  ratio to COPY                      {rate / copy_rate:8.1%}")
    if ie is not None:
        ie_rate = ie["rows"] / ie["seconds"]
        print(
            f"  django-import-export row by row    {ie['seconds']:8.1f} s  {ie_rate:12,.0f} rows/s"
            f"  ({ie['rows']:,} rows, profile columns only; the import is {rate / ie_rate:.0f}× faster)"
        )
    print(f"  peak memory of the import process  {peak_mb:8.0f} MB")
    print(
        f"  created {first['created']:,}, updated {first['updated']:,}, unchanged {first['unchanged']:,}, "
        f"rejected {first['rejected']:,}"
    )
    for label, value in first["extra"]:
        print(f"  {label}: {value}")
    for line, error in first["errors"]:
        print(f"  line {line}: {error}")
    if args.again:
        second = run_child(path, args.url)
        print(
            f"  again: {second['seconds']:.1f} s ({second['rows'] / second['seconds']:,.0f} rows/s): created "
            f"{second['created']:,}, updated {second['updated']:,}, unchanged {second['unchanged']:,}"
        )
    from bench._setup import django_on_bench_database

    django_on_bench_database(args.url)
    from loyalty.reconcile import ledger_mismatches

    mismatches = ledger_mismatches(limit=5)
    print(f"  reconcile_ledger: {mismatches or 'all balanced'}")


if __name__ == "__main__":
    main()
