"""Feature-store speed: backfill of a large synthetic panel, one daily update, one as-of read of a symbol.

Workload (issue #5): 500 synthetic symbols x 25 years of business days (~3.26M price rows, OHLCV),
then a daily update of all 500 symbols (one new day), then as-of reads of one symbol through
`FeatureStore.dataset` (what training and forecasting from the store read: the symbol's `Dataset`).
Goals: backfill <= 30 s, daily update <= 3 s, one as-of read <= 50 ms.

Backfill and update include everything the CLI does: validation, the idempotency diff, the Parquet
write, the commit, and recomputing the derived groups (returns, moving averages). As a reference
measured in the same run, the script also times a bare ``DataFrame.to_parquet`` of the same rows (the
floor for writing them once, with no checks and no derived groups).

Run: ``python benchmarks/store.py [--symbols 500] [--years 25] [--store /tmp/x]`` (a temporary folder
by default; pass ``s3://...`` with AWS_ENDPOINT_URL set to time an object store).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.store import FeatureStore


def synthetic_panel(symbols: int, years: int, seed: int = 0) -> pd.DataFrame:
    """Geometric random-walk OHLCV prices for ``symbols`` symbols over ``years`` years of business days."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(end="2025-12-31", periods=years * 261)
    n = len(dates)
    log_price = np.log(rng.uniform(20, 500, size=(symbols, 1))) + np.cumsum(
        rng.normal(0.0003, 0.012, size=(symbols, n)), axis=1)
    close = np.exp(log_price).ravel()
    spread = np.abs(rng.normal(0, 0.006, size=close.shape))
    return pd.DataFrame({
        "symbol": np.repeat([f"SYM{i:04d}" for i in range(symbols)], n),
        "date": np.tile(dates.to_numpy(), symbols),
        "open": close * (1 + rng.normal(0, 0.003, size=close.shape)),
        "high": close * (1 + spread),
        "low": close * (1 - spread),
        "close": close,
        "adj_close": close,
        "volume": rng.integers(1_000, 1_000_000, size=close.shape).astype(np.float64),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--years", type=int, default=25)
    parser.add_argument("--reads", type=int, default=30, help="as-of reads to time (median reported)")
    parser.add_argument("--store", default=None, help="store URL (default: a fresh temporary folder)")
    args = parser.parse_args()
    print(describe())

    with tempfile.TemporaryDirectory() as tmp:
        url = args.store or f"{tmp}/store"
        panel = synthetic_panel(args.symbols, args.years)
        history, last_day = panel[panel["date"] < panel["date"].max()], panel[panel["date"] == panel["date"].max()]
        print(f"panel: {args.symbols} symbols x {history['date'].nunique()} business days = {len(history):,} rows")

        start = time.perf_counter()
        history.to_parquet(f"{tmp}/reference.parquet", index=False)
        reference = time.perf_counter() - start

        store = FeatureStore(url)
        t0 = datetime.now(UTC) - timedelta(days=1)
        store.register(pd.DataFrame({"symbol": panel["symbol"].unique(), "group": "prices",
                                     "description": "synthetic", "source": "synthetic", "freq": "B"}), now=t0)
        start = time.perf_counter()
        report = store.upsert("prices", history, now=t0)
        backfill = time.perf_counter() - start
        print(f"backfill: {report.summary()}")

        start = time.perf_counter()
        report = FeatureStore(url).upsert("prices", last_day)  # a fresh process's view: nothing cached
        daily = time.perf_counter() - start
        print(f"daily:    {report.summary()}")

        reader = FeatureStore(url)
        reader.dataset("SYM0000", as_of=t0)  # first query sets up DuckDB; a server would keep it warm
        reads = []
        for i in range(args.reads):
            start = time.perf_counter()
            series = reader.dataset(f"SYM{i % args.symbols:04d}", as_of=t0).series()
            reads.append(time.perf_counter() - start)
        assert series.index[-1] < last_day["date"].iloc[0], "as-of read returned a row ingested after its as-of time"
        read = statistics.median(reads)

    print()
    print(f"{'step':<28}{'measured':>12}{'goal':>10}  verdict")
    for name, value, goal in (("backfill", backfill, 30.0), ("daily update (500 symbols)", daily, 3.0),
                              ("as-of read (median)", read, 0.050)):
        print(f"{name:<28}{value:>11.3f}s{goal:>9.3f}s  {'met' if value <= goal else 'MISSED'}")
    print(f"\nreference: bare to_parquet of the same {len(history):,} rows took {reference:.2f} s; "
          f"backfill = {backfill / reference:.1f}x that (validation, diff, commit, derived groups)")
    print(f"as-of read: {len(series):,} values of one symbol; p90 {np.percentile(reads, 90) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
