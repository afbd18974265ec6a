"""Investor app latency: 20 concurrent clients on ``POST /api/v1/simulate`` for 30 s against a local server.

Workload (issue #7): ``hpcast app`` started for real (its own process, uvicorn, the Gradio page mounted)
on the bundled data; each client sends varied requests in a loop: a random mix of 1-4 assets
(sp500, nasdaq, gold, cash, or bitcoin alone), random weights, horizons of 3, 6 or 1-12 months, and
the default as-of date or one of 20 past dates. Goal: p95 <= 300 ms on this machine.

Reference measured in the same run: ``GET /api/v1/health`` under the same 20 clients, i.e. what the
server, the HTTP stack and the load generator cost with no simulation at all. The load generator (one
asyncio process, httpx) shares the machine's cores with the server, as a local user's browser would.

Run: ``python benchmarks/app_latency.py [--seconds 30] [--clients 20] [--store DIR] [--workers N] [--threads N]
[--repeat N]`` (a temporary store filled from the bundled series by default; the registry is a fresh empty one
unless HPCAST_DATA is set, so every asset uses the drift baseline unless you point it at trained champions).
``--workers``/``--threads`` are passed to ``hpcast app``; ``--repeat`` measures the simulate load that many
times against the same server and also prints the median of the runs' p50 and p95 (deploy/README.md's table).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path

AS_OF = [f"{year}-{month:02d}-{day}" for year in range(2005, 2015) for month, day in ((3, 15), (9, 15))]


def random_request(rng: random.Random) -> dict:
    mixable = ["sp500", "nasdaq", "gold", "cash"]  # bitcoin's 2020-2021 history overlaps none of them
    names = ["bitcoin"] if rng.random() < 0.1 else rng.sample(mixable, rng.randint(1, 4))
    raw = [rng.uniform(1, 10) for _ in names]
    weights = [round(100 * r / sum(raw), 2) for r in raw]
    weights[-1] = round(100 - sum(weights[:-1]), 2)
    body = {"amount": rng.choice([1000, 10000, 250000]), "allocation": dict(zip(names, weights, strict=True)),
            "horizon_months": rng.choice([3, 6, rng.randint(1, 12)])}
    if names != ["bitcoin"] and "cash" not in names and rng.random() < 0.5:
        body["as_of"] = rng.choice(AS_OF)
    return body


async def load(url: str, clients: int, seconds: float, simulate: bool) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(index: int) -> None:
        nonlocal errors
        rng = random.Random(index)
        async with httpx.AsyncClient(base_url=url, timeout=30) as http:
            while time.perf_counter() < stop:
                start = time.perf_counter()
                if simulate:
                    response = await http.post("/api/v1/simulate", json=random_request(rng))
                else:
                    response = await http.get("/api/v1/health")
                latencies.append(time.perf_counter() - start)
                errors += response.status_code != 200

    await asyncio.gather(*(client(i) for i in range(clients)))
    return latencies, errors


def summary(name: str, latencies: list[float], errors: int, seconds: float) -> dict:
    cuts = statistics.quantiles(latencies, n=100)
    return {"name": name, "requests": len(latencies), "errors": errors, "per_s": len(latencies) / seconds,
            "p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--store", help="store to serve [default: a temporary one from the bundled series]")
    parser.add_argument("--workers", type=int, default=1, help="hpcast app --workers")
    parser.add_argument("--threads", type=int, help="hpcast app --threads [default: the app's]")
    parser.add_argument("--repeat", type=int, default=1, help="simulate measurements against the same server")
    args = parser.parse_args()
    print(describe())

    scratch = Path(tempfile.mkdtemp(prefix="hpcast-app-bench-"))
    env = {**os.environ, "HPCAST_STORE": args.store or str(scratch / "store"),
           "HPCAST_DATA": os.environ.get("HPCAST_DATA", str(scratch / "data"))}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hpcast", "app", "--port", str(port), "--workers", str(args.workers)]
    command += ["--threads", str(args.threads)] if args.threads else []
    server = subprocess.Popen(command, env=env, cwd=scratch,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/api/v1/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise SystemExit("the server did not start")
        asyncio.run(load(url, args.clients, 3, simulate=True))  # warm-up: imports, first model loads
        rows = []
        for name, simulate, seconds in (("GET /api/v1/health (reference)", False, min(10, args.seconds)),
                                        *[("POST /api/v1/simulate", True, args.seconds)] * args.repeat):
            latencies, errors = asyncio.run(load(url, args.clients, seconds, simulate))
            rows.append(summary(name, latencies, errors, seconds))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    print(f"{args.clients} concurrent clients, {os.cpu_count()} cores shared by server and clients; hpcast app "
          f"--workers {args.workers}" + (f" --threads {args.threads}" if args.threads else ""))
    print(f"{'endpoint':34s} {'requests':>8s} {'errors':>6s} {'req/s':>7s} "
          f"{'p50 ms':>7s} {'p95 ms':>7s} {'p99 ms':>7s}")
    for row in rows:
        print(f"{row['name']:34s} {row['requests']:8d} {row['errors']:6d} {row['per_s']:7.1f} {row['p50']:7.1f} "
              f"{row['p95']:7.1f} {row['p99']:7.1f}")
    reference, *runs = rows
    simulate = {key: statistics.median(run[key] for run in runs) for key in ("p50", "p95")}
    if len(runs) > 1:
        print(f"median of {len(runs)} simulate runs: p50 {simulate['p50']:.1f} ms, p95 {simulate['p95']:.1f} ms")
    print(f"simulate / health: p50 x{simulate['p50'] / reference['p50']:.1f}, "
          f"p95 x{simulate['p95'] / reference['p95']:.1f}")
    print(f"goal p95 <= 300 ms: {'met' if simulate['p95'] <= 300 else 'NOT met'} ({simulate['p95']:.0f} ms)")


if __name__ == "__main__":
    main()
