"""The purchase-history import at chain scale: how fast, and in how much memory, do years of receipts go in?

    python -m bench.import_sales --rows 100000 --again
    python -m bench.import_sales --rows 1000000 --no-points --again --profile

Generates a realistic purchase-history file the way a chain exports one from its previous system
(Chinese headers, UTF-8 with BOM as Excel saves it): receipts over the last three years in time order,
80 % of one row and 20 % of 2–4 line rows (the receipt number on each, the receipt's own cells repeated
on some later rows and blank on others), 10 % without a member, phones typed every way, 50 stores,
amounts from ¥12.50 to ¥2,000.00, categories, quantities, SKUs, and line amounts that add up to the
receipt's on half of the receipts with lines. The file and its expected figures are cached in bench/out/.

Then, on a fresh bench database (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/loyalty_bench_sales) holding the stores, an earning rule of 1 point
per ¥1, three tiers and the members the file's phones belong to (bench.generate.generate_members,
`--members`, by default one for every five rows):

1. reference: PostgreSQL's own COPY of the same file into a plain table of text columns;
2. the import, in a child process, through sales_import() as `import_sales` calls it (reading,
   validation, staging, the checks per receipt, the writes, all in one transaction), without points;
3. the same import with award_points=True, on a copy of the database taken before step 2 (not with
   --no-points);
4. with --again, each import a second time (it must create nothing);
5. the checks: the ledger (reconcile), imported sales = the file's receipts, purchase counts and
   total spend in MemberStats = the file's member receipts and their amounts.

With --profile every SQL statement of the imports is timed (connection.execute_wrapper), and the
slowest are listed; with --explain the writing statements run under EXPLAIN ANALYZE and their plans go
to bench/out/ (their times are then inflated: measure with --profile alone).
"""

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from contextlib import nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/loyalty_bench_sales"
HEADER = ["小票号", "手机号", "门店编码", "消费时间", "实付金额", "品类", "数量", "商品金额", "商品编码"]
STORES = 50
DAYS = 3 * 365
CATEGORIES = [
    "饮料",
    "乳制品",
    "零食",
    "烘焙",
    "生鲜",
    "粮油",
    "调味品",
    "酒水",
    "日用品",
    "个人护理",
    "美妆",
    "母婴",
    "家居",
    "服装",
    "数码配件",
]
TOP_STATEMENTS = 10


def _member_phone(member_id: int) -> str:
    from bench.generate import MOBILE_PREFIXES

    # The phone bench.generate.generate_members gives the member with this id.
    return f"{MOBILE_PREFIXES[member_id % len(MOBILE_PREFIXES)]}{member_id:08d}"


def _split_cents(total: int, parts: int, rng: random.Random) -> list[int]:
    """`total` cents in `parts` positive amounts that add up to it exactly."""
    cuts = sorted(rng.sample(range(1, total), parts - 1))
    return [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]


def _money(cents: int, *, grouped: bool = False) -> str:
    text = f"{cents / 100:,.2f}" if grouped else f"{cents // 100}.{cents % 100:02d}"
    return f'"{text}"' if "," in text else text


def generate_file(rows: int, members: int, path: Path, *, seed: int = 20261202) -> dict:
    """Write the file; returns what an import of it must find (receipts, member receipts, their spend)."""
    from bench.import_members import _typed

    rng = random.Random(seed)
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    first_day = today - timedelta(days=DAYS)
    figures = {"rows": rows, "members": members, "receipts": 0, "member_receipts": 0, "member_spend_cents": 0}
    figures |= {"multi_line_receipts": 0, "priced_receipts": 0, "members_used": 0}
    used = bytearray(members + 1)
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        write = out.write
        write(",".join(HEADER) + "\r\n")
        while written < rows:
            receipt = figures["receipts"]
            figures["receipts"] += 1
            # The file is in time order, as exports are; yesterday at the latest, so no time is in the future.
            day = first_day + timedelta(days=written * DAYS // rows)
            second = rng.randrange(8 * 3600, 22 * 3600)
            sold_at = f"{day.isoformat()} {second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
            store = f"B{rng.randrange(STORES):03d}"
            receipt_no = f"{store}{day:%y%m%d}{receipt:08d}"
            # Most receipts are small: amounts spread evenly on a log scale from ¥12.50 to ¥2,000.00.
            cents = round(1250 * 160 ** rng.random())
            amount = _money(cents, grouped=cents >= 100_000 and rng.random() < 0.3)
            phone = ""
            if rng.random() >= 0.1:
                # Regulars buy more often: low ids are drawn more than high ones.
                member_id = 1 + int(members * rng.random() ** 1.5)
                phone = _typed(_member_phone(member_id), rng.randrange(10))
                figures["member_receipts"] += 1
                figures["member_spend_cents"] += cents
                if not used[member_id]:
                    used[member_id] = 1
                    figures["members_used"] += 1
            head = [receipt_no, phone, store, sold_at, amount]
            lines = 1 if rng.random() < 0.8 else rng.randrange(2, 5)
            lines = min(lines, rows - written)
            if lines == 1:
                cells = head + (["", "", "", ""] if rng.random() < 0.4 else [rng.choice(CATEGORIES), "1", "", ""])
                write(",".join(cells) + "\r\n")
                written += 1
                continue
            figures["multi_line_receipts"] += 1
            priced = rng.random() < 0.5
            if priced:
                figures["priced_receipts"] += 1
                shares = _split_cents(cents, lines, rng)
            repeat_head = rng.random() < 0.5
            for n in range(lines):
                cells = head if n == 0 or (repeat_head and rng.random() < 0.8) else [receipt_no, "", "", "", ""]
                sku = f"69{rng.randrange(10**11):011d}" if rng.random() < 0.5 else ""
                line_amount = _money(shares[n]) if priced else ""
                write(",".join([*cells, rng.choice(CATEGORIES), str(rng.randrange(1, 6)), line_amount, sku]) + "\r\n")
            written += lines
    return figures


def copy_reference(url: str, path: Path) -> tuple[float, int]:
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


class StatementTimer:
    """connection.execute_wrapper timing every statement (by its text, temp tables' names made equal).
    Statements through psycopg's own cursors (the staging COPY, the streamed points query) pass it by."""

    TEMP = re.compile(r"sale_import_[0-9a-f]{8}")

    def __init__(self, explain: bool):
        self.explain = explain
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.plans: dict[str, str] = {}

    def __call__(self, execute, sql, params, many, context):
        key = self.TEMP.sub("sale_import_T", sql)
        started = time.perf_counter()
        if self.explain and not many and key != sql and re.match(r"\s*(INSERT|UPDATE|DELETE|WITH)\b", sql):
            # EXPLAIN ANALYZE runs the statement: the import goes on as it would, only slower. Only the
            # import's own set-based statements (those over its temp tables): the ORM's want their rows.
            result = execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params, many, context)
            plan = "\n".join(line for (line,) in context["cursor"].fetchall())
            self.plans[key] = self.plans.get(key, "") + plan + "\n"
        else:
            result = execute(sql, params, many, context)
        self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
        self.calls[key] = self.calls.get(key, 0) + 1
        return result

    def top(self, n: int) -> list[tuple[float, int, str]]:
        ranked = sorted(self.seconds, key=self.seconds.get, reverse=True)[:n]
        return [(self.seconds[key], self.calls[key], key) for key in ranked]


def child(path: Path, url: str, *, award_points: bool, profile: str) -> None:
    """Run one import in this process and print its result as JSON (the parent measures memory)."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from loyalty.services.sales_import import sales_import

    actor = get_user_model().objects.get(username="bench_admin")
    timer = StatementTimer(explain=profile == "explain") if profile else None
    # When each phase starts, from the progress reports the command's progress bar gets too.
    phases: dict[str, float] = {}

    def progress(p) -> None:
        phases.setdefault(p.phase, time.perf_counter())

    commit = {"seconds": 0.0}
    if timer is not None:
        # Django's foreign keys are DEFERRABLE INITIALLY DEFERRED on PostgreSQL: the checks of every
        # row written run at COMMIT, which no execute_wrapper sees.
        connection.ensure_connection()
        _commit = connection._commit

        def timed_commit():
            at = time.perf_counter()
            _commit()
            commit["seconds"] += time.perf_counter() - at

        connection._commit = timed_commit
    started = time.perf_counter()
    with connection.execute_wrapper(timer) if timer is not None else nullcontext():
        result = sales_import(
            open_source=lambda: path.open("rb"),
            file_name=path.name,
            actor=actor,
            award_points=award_points,
            progress=progress,
        )
    seconds = time.perf_counter() - started
    answer = {
        "seconds": seconds,
        "rows": result.rows,
        "created": result.created,
        "unchanged": result.unchanged,
        "rejected": result.rejected,
        "written": result.written,
        "errors": result.errors[:5],
        "extra": result.extra,
        # This process's own peak: what RUSAGE_CHILDREN shows the parent for this child alone (the
        # parent's figure is the largest of all its children, and several imports run one after another).
        "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "phases": [
            [phase, phases[after] - phases[phase]]
            for phase, after in [("reading", "checking"), ("checking", "writing"), ("writing", "done")]
            if phase in phases and after in phases
        ],
        "commit": commit["seconds"],
    }
    if timer is not None:
        answer["statements"] = timer.top(TOP_STATEMENTS)
        answer["in_statements"] = sum(timer.seconds.values())
        answer["statement_count"] = sum(timer.calls.values())
        if timer.plans:
            plans = OUT / f"explain_{path.stem}_{'points' if award_points else 'plain'}.txt"
            with plans.open("w") as out:
                for total, calls, sql in timer.top(len(timer.seconds)):
                    if sql in timer.plans:
                        out.write(f"-- {total:.2f} s, {calls} call(s)\n{sql}\n\n{timer.plans[sql]}\n\n")
            answer["plans"] = str(plans.relative_to(ROOT))
    print(json.dumps(answer))


def check_child(url: str) -> None:
    """The checks after the imports, on one database; prints JSON."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db.models import Count, Sum

    from loyalty.models import MemberStats, PointsEntry, Sale, TierChange
    from loyalty.reconcile import ledger_mismatches

    stats = MemberStats.objects.aggregate(purchases=Sum("purchase_count"), spend=Sum("total_spend"))
    by_tier = MemberStats.objects.values_list("tier__name").annotate(n=Count("member_id")).order_by("tier__rank")
    print(
        json.dumps(
            {
                "mismatches": [str(m) for m in ledger_mismatches(limit=5)],
                "imported_sales": Sale.objects.filter(source=Sale.Source.IMPORT).count(),
                "member_sales": Sale.objects.filter(source=Sale.Source.IMPORT, member__isnull=False).count(),
                "purchase_count": stats["purchases"] or 0,
                "spend_cents": round((stats["spend"] or 0) * 100),
                "points": PointsEntry.objects.aggregate(total=Sum("points"))["total"] or 0,
                "tier_changes": TierChange.objects.count(),
                "tiers": [[name or "-", n] for name, n in by_tier],
            }
        )
    )


def run_child(*arguments: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.import_sales", *arguments],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"child {' '.join(arguments)} failed with exit status {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def prepare_database(url: str, members: int) -> None:
    from bench._setup import django_on_bench_database

    django_on_bench_database(url, fresh=True)
    from bench.generate import generate_members
    from loyalty.models import EarningRule, LoyaltySettings, Tier, TierPolicy
    from members.models import Member
    from stores.services import staff_create

    made = generate_members(members, stores=STORES)
    # The file's phones are the ids' phones: the members must hold ids 1…members.
    last = Member.objects.order_by("-id").values_list("id", "phone").first()
    assert last == (members, "+86" + _member_phone(members)), last
    LoyaltySettings.current()
    TierPolicy.current()
    EarningRule.objects.create(name="基础积分", points_per_yuan=1)
    for rank, (code, name, threshold) in enumerate(
        [("普卡", "普通会员", 0), ("银卡", "银卡会员", 1000), ("金卡", "金卡会员", 5000)]
    ):
        Tier.objects.create(code=code, name=name, rank=rank, threshold=threshold)
    staff_create(actor=None, username="bench_admin", password="bench-admin", role="hq_admin")
    print(f"{members:,} members in {made['seconds']:.1f} s")
    from django.db import connections

    connections.close_all()


def copy_database(url: str, suffix: str) -> str:
    """A copy of the prepared database (CREATE DATABASE … TEMPLATE: a file copy, seconds)."""
    import psycopg

    server, _slash, name = url.rpartition("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}{suffix}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}{suffix}" TEMPLATE "{name}"')
    return f"{url}{suffix}"


def print_run(label: str, run: dict, copy_rate: float) -> None:
    rate = run["rows"] / run["seconds"]
    receipts = run["created"] + run["unchanged"]
    print(
        f"  import_sales, {label:<19} {run['seconds']:8.1f} s  {rate:12,.0f} rows/s  "
        f"{receipts / run['seconds']:10,.0f} receipts/s"
    )
    print(f"    ratio to COPY                    {rate / copy_rate:8.1%}")
    print(f"    peak memory of the import process {run['peak_kb'] / 1024:7.0f} MB")
    print(f"    created {run['created']:,}, unchanged {run['unchanged']:,}, rejected {run['rejected']:,} rows")
    for label_, value in run["extra"]:
        print(f"    {label_}: {value}")
    for line, error in run["errors"]:
        print(f"    line {line}: {error}")
    if run["phases"]:
        print("    phases: " + ", ".join(f"{phase} {seconds:.1f} s" for phase, seconds in run["phases"]))
    if "statements" in run:
        outside = run["seconds"] - run["in_statements"] - run["commit"]
        print(
            f"    {run['statement_count']} statements through Django, {run['in_statements']:.1f} s; COMMIT (the "
            f"deferred foreign-key checks) {run['commit']:.1f} s; the rest (reading and parsing, the staging COPY, "
            f"the points query and points in Python) {outside:.1f} s; the slowest statements:"
        )
        for seconds, calls, sql in run["statements"]:
            text = " ".join(sql.split())
            print(f"    {seconds:7.2f} s {calls:3}×  {text[:150]}{'…' if len(text) > 150 else ''}")
        if "plans" in run:
            print(f"    plans (EXPLAIN ANALYZE, times inflated): {run['plans']}")


def print_checks(label: str, checks: dict, figures: dict) -> None:
    def verdict(ok: bool) -> str:
        return "ok" if ok else "WRONG"

    print(f"  checks, {label}:")
    print(f"    reconcile_ledger: {checks['mismatches'] or 'all balanced'}")
    print(
        f"    imported sales {checks['imported_sales']:,} = receipts of the file {figures['receipts']:,}: "
        f"{verdict(checks['imported_sales'] == figures['receipts'])}"
    )
    print(
        f"    MemberStats.purchase_count sum {checks['purchase_count']:,} = member receipts "
        f"{figures['member_receipts']:,}: {verdict(checks['purchase_count'] == figures['member_receipts'])}"
    )
    spend, expected = checks["spend_cents"], figures["member_spend_cents"]
    print(
        f"    MemberStats.total_spend sum ¥{spend / 100:,.2f} = the member receipts' amounts "
        f"¥{expected / 100:,.2f}: {verdict(spend == expected)}"
    )
    print(
        f"    points in the ledger {checks['points']:,}; tier changes {checks['tier_changes']:,}; members by tier "
        + ", ".join(f"{name} {n:,}" for name, n in checks["tiers"])
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, help="members the file's phones belong to (default: rows / 5)")
    parser.add_argument("--again", action="store_true", help="import the same file a second time")
    parser.add_argument("--no-points", action="store_true", help="skip the import with award_points")
    parser.add_argument("--profile", action="store_true", help="time every SQL statement of the imports")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the imports' writing statements")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-points", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-profile", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    args = parser.parse_args()
    if args.child_check:
        check_child(args.url)
        return
    if args.child:
        child(Path(args.child), args.url, award_points=args.child_points, profile=args.child_profile)
        return

    members = args.members or max(args.rows // 5, 1)
    path = OUT / f"sales_{args.rows}_{members}.csv"
    expected = path.with_suffix(".json")
    if not (path.exists() and expected.exists()):
        started = time.perf_counter()
        figures = generate_file(args.rows, members, path)
        expected.write_text(json.dumps(figures))
        seconds = time.perf_counter() - started
        print(f"generated {path.relative_to(ROOT)} ({path.stat().st_size / 1e6:.0f} MB) in {seconds:.1f} s")
    figures = json.loads(expected.read_text())
    prepare_database(args.url, members)
    runs = [("without points", args.url, False)]
    if not args.no_points:
        runs.append(("with award_points", copy_database(args.url, "_points"), True))

    # The machine may be shared: a load above the bench's own explains a slow run.
    load = os.getloadavg()
    copy_seconds, loaded = copy_reference(args.url, path)
    copy_rate = loaded / copy_seconds
    profile = "explain" if args.explain else "time" if args.profile else ""
    print(
        f"\nsales import of {args.rows:,} rows, {figures['receipts']:,} receipts "
        f"({figures['multi_line_receipts']:,} with 2–4 lines, {figures['priced_receipts']:,} of them with line "
        f"amounts; {figures['receipts'] - figures['member_receipts']:,} without a member), "
        f"{figures['members_used']:,} of {members:,} members, {path.stat().st_size / 1e6:.0f} MB, PostgreSQL, same run:"
    )
    print(f"  load average before the run {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)")
    print(f"  reference COPY into a text table   {copy_seconds:8.1f} s  {copy_rate:12,.0f} rows/s")
    for label, url, award_points in runs:
        extra = ["--child-points"] if award_points else []
        extra += ["--child-profile", profile] if profile else []
        first = run_child("--child", str(path), "--url", url, *extra)
        print_run(label, first, copy_rate)
        if args.again:
            second = run_child("--child", str(path), "--url", url, *extra)
            print(
                f"    again: {second['seconds']:.1f} s ({second['rows'] / second['seconds']:,.0f} rows/s): created "
                f"{second['created']:,}, unchanged {second['unchanged']:,}, rejected {second['rejected']:,}"
            )
        print_checks(label, run_child("--child-check", "--url", url), figures)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"  largest resident set of any child (RUSAGE_CHILDREN) {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
