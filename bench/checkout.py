"""Checkout throughput on a real server: gunicorn + PostgreSQL, N concurrent tills posting sales.

    python -m bench.checkout --members 100000 --clients 16 --seconds 20

1. Builds a bench database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/loyalty_bench)
   with that many members and three sales of history each (bench/generate.py), and tops up the
   stored value of a fifth of them.
2. Starts gunicorn on 127.0.0.1 and runs `--clients` threads posting realistic sales to
   POST /api/v1/sales/ for `--seconds`: 70 % earn only, 20 % pay partly with points, 10 % pay
   partly from stored value. Prints checkouts/s, p50 and p99 latency, and errors.
3. Counts SQL queries per checkout in-process, for a member with 3 sales of history and one with
   300, to show the count does not grow with history.
4. Reference in the same run: pgbench's built-in tpcb-like transaction with the same number of
   clients on the same PostgreSQL, and the ratio.
"""

import argparse
import http.client
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PORT = 8123


def _server_env(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_DEBUG": "0",
        "SECRET_KEY": "bench-" + "x" * 40,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "0",  # the clients talk plain HTTP to gunicorn
        "DB_CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "CELERY_BROKER_URL": "",
        # One login stands for every till of the bench chain: a till's rate limits are not what is measured.
        "API_THROTTLE_USER": "1000000/min",
        "API_THROTTLE_WRITE": "1000000/min",
    }


def start_server(url: str, workers: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    proc = subprocess.Popen(
        [
            str(gunicorn),
            "config.wsgi",
            "--bind",
            f"127.0.0.1:{PORT}",
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=_server_env(url),
    )
    for _ in range(100):
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def sale_payload(rng: random.Random, member: dict) -> dict:
    category = rng.choice(["饮品", "烘焙", "零食", "日用品", "生鲜"])
    quantity = rng.randrange(1, 4)
    price = rng.randrange(800, 12000) / 100
    total = round(quantity * price, 2)
    payload = {
        "request_id": str(uuid.uuid4()),
        "store": member["store"],
        "member": member["code"],
        "lines": [{"category": category, "quantity": str(quantity), "unit_price": f"{price:.2f}"}],
        "tenders": [],
    }
    roll = rng.random()
    rest = total
    if roll < 0.2 and member["points"] >= 100:
        points = min(member["points"], int(total * 0.5 * 100)) // 100 * 100
        if points:
            payload["points"] = points
            member["points"] -= points
            rest = round(total - points / 100, 2)
    elif roll < 0.3 and member["wallet"] >= total:
        payload["tenders"].append({"kind": "stored_value", "amount": f"{total:.2f}"})
        member["wallet"] -= total
        rest = 0
    if rest > 0:
        payload["tenders"].append({"kind": rng.choice(["cash", "mobile", "card"]), "amount": f"{rest:.2f}"})
    return payload


def run_clients(members: list[dict], token: str, clients: int, seconds: float) -> tuple[list[float], int, dict]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds
    # Each client works on its own slice of members, like tills in different stores.
    slices = [members[i::clients] for i in range(clients)]

    def client(n: int):
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        mine: list[float] = []
        while time.perf_counter() < deadline:
            body = json.dumps(sale_payload(rng, rng.choice(slices[n])))
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/sales/", body=body, headers=headers)
                response = conn.getresponse()
                text = response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
                with lock:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            elapsed = time.perf_counter() - started
            if response.status == 201:
                mine.append(elapsed)
            else:
                code = (
                    json.loads(text).get("code", str(response.status))
                    if text.startswith(b"{")
                    else str(response.status)
                )
                with lock:
                    errors[code] = errors.get(code, 0) + 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, time.perf_counter() - started, errors


def queries_per_checkout(member_code: str, store: str, cashier) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(cashier)
    payload = {
        "request_id": str(uuid.uuid4()),
        "store": store,
        "member": member_code,
        "lines": [{"category": "饮品", "quantity": "1", "unit_price": "30.00"}],
        "points": 100,
        "tenders": [{"kind": "cash", "amount": "29.00"}],
    }
    with CaptureQueriesContext(connection) as captured:
        response = client.post("/api/v1/sales/", payload, format="json")
    assert response.status_code == 201, response.content
    return len(captured.captured_queries)


def pgbench_tps(clients: int, seconds: int) -> float:
    base = ["-h", "127.0.0.1", "-U", "postgres"]
    subprocess.run(["dropdb", *base, "--if-exists", "loyalty_pgbench"], check=True)
    subprocess.run(["createdb", *base, "loyalty_pgbench"], check=True)
    subprocess.run(["pgbench", *base, "-i", "-q", "-s", "10", "loyalty_pgbench"], check=True, capture_output=True)
    out = subprocess.run(
        ["pgbench", *base, "-c", str(clients), "-j", "2", "-T", str(seconds), "-b", "tpcb-like", "loyalty_pgbench"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1))


def main() -> None:
    from bench._setup import django_on_bench_database

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    # On 2 cores shared with PostgreSQL and the clients, 3 workers beat gunicorn's usual 2 × cores + 1
    # (measured: 110 against 80 checkouts/s); the work is CPU, not waiting.
    parser.add_argument("--workers", type=int, default=3, help="gunicorn sync workers")
    parser.add_argument("--reuse", action="store_true", help="keep an existing bench database")
    args = parser.parse_args()

    url = django_on_bench_database(fresh=not args.reuse)
    from decimal import Decimal

    from bench.generate import bench_cashier, generate_history, generate_members
    from loyalty.models import PointsAccount, Wallet
    from loyalty.services import wallet_top_up
    from members.models import Member
    from stores.services import integration_token_create

    existing = Member.objects.count()
    if existing < args.members:
        made = generate_members(args.members - existing)
        print(f"generated {made['members']:,} members in {made['seconds']:.1f} s")
    cashier = bench_cashier()
    history = generate_history(sales_per_member=3, cashier_id=cashier.pk)
    if history["sales"]:
        print(f"generated {history['sales']:,} sales of history in {history['seconds']:.1f} s")
    _made, token = integration_token_create(actor=None, user=cashier, name="bench", days=1)

    # Frozen members (the generator freezes a few, as a real chain has) cannot be sold to.
    active = Member.objects.filter(status=Member.Status.ACTIVE)
    sample = list(active.order_by("?").values("id", "code", "home_store__code")[: min(20_000, args.members)])
    points = dict(PointsAccount.objects.filter(pk__in=[m["id"] for m in sample]).values_list("pk", "available"))
    if not Wallet.objects.filter(principal__gt=0).exists():
        for m in sample[::5]:
            wallet_top_up(
                request_id=f"bench-topup-{m['id']}",
                member=Member.objects.get(pk=m["id"]),
                store=Member.objects.get(pk=m["id"]).home_store,
                staff=cashier,
                tender="mobile",
                amount=Decimal("500"),
            )
    wallets = dict(Wallet.objects.filter(pk__in=[m["id"] for m in sample]).values_list("pk", "principal"))
    members = [
        {
            "code": m["code"],
            "store": m["home_store__code"],
            "points": points.get(m["id"], 0),
            "wallet": float(wallets.get(m["id"], 0)),
        }
        for m in sample
    ]

    # Query count with a short and with a long history.
    short = next(m for m in sample if points.get(m["id"], 0) >= 100)
    short_q = queries_per_checkout(short["code"], short["home_store__code"], cashier)
    long_member = _member_with_long_history(active.order_by("id").first(), cashier, sales=300)
    long_q = queries_per_checkout(long_member.code, long_member.home_store.code, cashier)

    print(
        f"\nserver: gunicorn, {args.workers} sync workers; {args.clients} clients for {args.seconds:.0f} s; "
        f"{Member.objects.count():,} members"
    )
    server = start_server(url, args.workers)
    try:
        run_clients(members, token, args.clients, 2)  # warm-up
        latencies, elapsed, errors = run_clients(members, token, args.clients, args.seconds)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    latencies.sort()
    rate = len(latencies) / elapsed
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    tps = pgbench_tps(args.clients, int(args.seconds))
    print(f"checkouts: {len(latencies):,} in {elapsed:.1f} s = {rate:.0f}/s; p50 {p50:.1f} ms; p99 {p99:.1f} ms")
    print(f"errors: {errors or 'none'}")
    print(f"SQL queries per checkout: {short_q} (3 earlier sales), {long_q} (300 earlier sales)")
    print(f"reference pgbench tpcb-like, {args.clients} clients: {tps:.0f} tps")
    print(f"ratio checkout/s ÷ pgbench tps: {rate / tps:.1%}")


def _member_with_long_history(member, cashier, *, sales: int):
    """Give one member `sales` real checkouts through the service (the slow, exact path)."""
    from decimal import Decimal

    from loyalty.models import Sale
    from loyalty.services import LineInput, TenderInput, sale_checkout

    have = Sale.objects.filter(member=member).count()
    for n in range(have, sales):
        sale_checkout(
            request_id=f"bench-long-{member.pk}-{n}",
            store=member.home_store,
            cashier=cashier,
            member=member,
            lines=[LineInput("饮品", Decimal("1"), Decimal("25.00"))],
            tenders=[TenderInput("cash", Decimal("25.00"))],
        )
    return member


if __name__ == "__main__":
    main()
