"""Scoring at chain scale: score_members next to pandas computing the same RFM from a CSV export.

    python -m bench.analytics --members 1000000 --sales 10000000

Fills a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench) with
that many members (bench.generate, COPY) and about that many sales over two years (set-based in SQL:
varied per-member frequency, some members lapsed, one in ten a bargain hunter buying mostly with a coupon
or points, one in seven moving spend to another category), reusing what is already there. Then:

a) score_members in a child process (as the nightly job runs it): wall time, the time of each step, and
   the child's peak RSS next to that of a child that only starts Django and connects;
b) the reference, in the same run: `COPY … TO` a CSV of the same sales (member, local day, net amount,
   timed apart), then pandas reads it and computes recency, frequency, monetary and their quintile
   scores by rank; both are printed with their ratio, and the two must agree on a sample of members;
c) each dashboard page, as bench.dashboards measures it: queries, page time, slowest query.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def prepare(*, members: int, sales: int) -> dict:
    """Fill the bench database up to `members` members and about `sales` sales; reused when already there."""
    from bench.generate import bench_cashier, generate_members, generate_sales_history
    from loyalty.models import Sale
    from members.models import Member

    figures = {}
    have = Member.objects.count()
    if have < members:
        made = generate_members(members - have)
        figures["members_seconds"] = made["seconds"]
        print(f"generated {made['members']:,} members in {made['seconds']:.1f} s", flush=True)
    have_sales = Sale.objects.count()
    if have_sales < sales * 0.9:
        made = generate_sales_history(sales=sales - have_sales, cashier_id=bench_cashier().pk)
        figures["sales_seconds"] = made["seconds"]
        print(f"generated {made['sales']:,} sales in {made['seconds']:.1f} s", flush=True)
    return figures


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_score(as_of: str) -> None:
    """In the child: score_members, printing one JSON line with its figures."""
    import datetime as dt

    from django.utils import translation

    from analytics.services import score_members

    translation.activate("en")
    steps, last = [], time.perf_counter()
    started = last

    def progress(step):
        nonlocal last
        now = time.perf_counter()
        steps.append((str(step), now - last))
        last = now

    result = score_members(as_of=dt.date.fromisoformat(as_of), progress=progress)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - started,
                "steps": steps,
                "members": result.members,
                "at_risk": result.at_risk,
                "fitted": result.fitted,
                "peak_mb": _peak_mb(),
                "note": result.note,
            }
        )
    )


def child_baseline() -> None:
    from django.db import connection

    connection.ensure_connection()
    import numpy  # noqa: F401
    import scipy.optimize  # noqa: F401

    from analytics import services  # noqa: F401

    print(json.dumps({"peak_mb": _peak_mb()}))


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "bench.analytics", *args], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


EXPORT_SQL = """
    COPY (
        SELECT s.member_id, (s.created_at AT TIME ZONE 'Asia/Shanghai')::date, s.total_due - s.refunded_amount
        FROM loyalty_sale s
        WHERE s.member_id IS NOT NULL AND s.created_at < %s
    ) TO STDOUT (FORMAT csv)
"""


def export_sales(path: Path, *, end) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor, path.open("wb") as out:
        raw = cursor.cursor
        with raw.copy(raw.mogrify(EXPORT_SQL, [end])) as copy:
            for chunk in copy:
                out.write(chunk)
    return time.perf_counter() - started


def pandas_rfm(path: Path, as_of):
    """The same RFM with pandas: read the CSV, group per member, quintiles by rank (ties share the lowest)."""
    import numpy as np
    import pandas as pd

    sales = pd.read_csv(
        path, names=["member_id", "day", "amount"], dtype={"member_id": "int64", "amount": "float64"}, engine="c"
    )
    sales["day"] = pd.to_datetime(sales["day"], format="%Y-%m-%d")
    grouped = sales.groupby("member_id").agg(last=("day", "max"), frequency=("day", "size"), monetary=("amount", "sum"))
    rfm = pd.DataFrame(index=grouped.index)
    rfm["recency"] = (pd.Timestamp(as_of) - grouped["last"]).dt.days
    rfm["frequency"] = grouped["frequency"]
    rfm["monetary"] = grouped["monetary"].clip(lower=0).round(2)
    n = len(rfm)
    for column, values in (("r", -rfm["recency"]), ("f", rfm["frequency"]), ("m", rfm["monetary"])):
        rank = values.rank(method="min").astype(np.int64)
        rfm[column] = 1 + (5 * (rank - 1)) // n
    return rfm


def check_agreement(rfm, *, sample: int = 2000) -> dict:
    from analytics.models import MemberScore

    ids = rfm.sample(n=min(sample, len(rfm)), random_state=7).index.tolist()
    scores = {
        s["member_id"]: s
        for s in MemberScore.objects.filter(member_id__in=ids).values(
            "member_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score"
        )
    }
    assert len(scores) == len(ids), f"{len(ids) - len(scores)} sampled members have no score"
    same_scores = 0
    for member_id in ids:
        ours, theirs = scores[member_id], rfm.loc[member_id]
        assert ours["recency_days"] == theirs["recency"], (member_id, ours, theirs)
        assert ours["frequency"] == theirs["frequency"], (member_id, ours, theirs)
        assert abs(float(ours["monetary"]) - theirs["monetary"]) < 0.005, (member_id, ours, theirs)
        same_scores += (ours["r_score"], ours["f_score"], ours["m_score"]) == (theirs["r"], theirs["f"], theirs["m"])
    return {"sampled": len(ids), "same_scores": same_scores}


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--prepare-only", action="store_true", help="fill the database and stop")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the bench database first")
    parser.add_argument("--no-dashboards", action="store_true")
    parser.add_argument("--child-score", metavar="AS_OF", help=argparse.SUPPRESS)
    parser.add_argument("--child-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_score or args.child_baseline:
        django_on_bench_database()
        child_score(args.child_score) if args.child_score else child_baseline()
        return
    url = django_on_bench_database(fresh=args.fresh)
    os.environ["BENCH_DATABASE_URL"] = url  # the children use the same database
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    from loyalty.models import MemberDailySpend, Sale

    started = time.perf_counter()
    prepare(members=args.members, sales=args.sales)
    print(f"prepared in {time.perf_counter() - started:.1f} s", flush=True)
    as_of = timezone.localdate()
    end = timezone.make_aware(dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time()))
    print(f"sales: {Sale.objects.count():,}; daily rows: {MemberDailySpend.objects.count():,}", flush=True)

    baseline = _child("--child-baseline")
    score = _child("--child-score", as_of.isoformat())
    print(f"score_members: {score['members']:,} members, {score['at_risk']:,} at risk, fitted {score['fitted']}")
    for step, seconds in score["steps"]:
        print(f"  {step}: {seconds:.1f} s")
    print(f"  total {score['seconds']:.1f} s, peak RSS {score['peak_mb']:.0f} MB", end="")
    print(f" (a child that only starts Django and connects: {baseline['peak_mb']:.0f} MB)")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sales.csv"
        export_seconds = export_sales(path, end=end)
        size_mb = path.stat().st_size / 1e6
        print(f"export COPY … TO CSV: {export_seconds:.1f} s ({size_mb:.0f} MB)", flush=True)
        before = _peak_mb()
        t = time.perf_counter()
        rfm = pandas_rfm(path, as_of)
        pandas_seconds = time.perf_counter() - t
        peak = max(before, _peak_mb())
        print(f"pandas read + RFM: {pandas_seconds:.1f} s for {len(rfm):,} members (peak RSS {peak:.0f} MB)")
    agreement = check_agreement(rfm)
    print(
        f"agreement: recency, frequency, monetary equal for all {agreement['sampled']:,} sampled members; "
        f"R, F and M scores equal for {agreement['same_scores']:,}"
    )
    print(f"score_members / pandas: {score['seconds'] / pandas_seconds:.2f} (1.00 or less meets the target)")
    connection.close()

    if not args.no_dashboards:
        from bench.dashboards import measure, print_measurement

        print_measurement(*measure())


if __name__ == "__main__":
    main()
