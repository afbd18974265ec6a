"""Does the investor page's range hold in calm and in storms? Before (bootstrap) and after (filtered) (issue 27).

`hpcast invest calibrate` (`hpcast.invest.calibrate.calibrate`, the function the CLI runs) over the bundled
as-of dates, every ``--every`` business days, for three allocations at 3 and 6 months, once with each noise
of the simulator: ``bootstrap`` (the last five years' joint returns as they were: before) and ``filtered``
(filtered historical simulation rescaled by each asset's GJR-GARCH or EWMA forecast: after). The market is a
temporary feature store filled from the bundled series, as `hpcast app` opens it; no registry, so every
asset's expected path is its historical drift (the bands are what is checked).

Per run: the as-of dates, the 90% and 50% bands' coverage over all of them, the 90% band per tercile of the
allocation's 21-day realised volatility at the as-of date, and per stress window whose storm the horizon
met (2008-09, Q4 2018), with the number of dates behind each share. The issue's goals: the 90% band within
85-95% in every tercile and stress window, the 50% band within 45-55% overall.

The issue's second allocation, 40/30/30 sp500/gold/bitcoin, cannot be checked on the bundled data: the
bundled bitcoin series covers 2020-01-01 to 2021-10-27, after sp500 ends (2018-12-31), so the three share
no date (the simulator says so, naming the assets and dates), and the freshest bundled CPI ends in 2018,
so no bitcoin outcome can be deflated. The run prints that message and checks 40/30/30
sp500/gold/nasdaq in its place.

Usage:
    python benchmarks/investor_calibration.py                 # every 5 business days (about 15 min on 2 cores)
    python benchmarks/investor_calibration.py --every 21 --out /tmp/calibration.md
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.errors import InputError
from hpcast.invest import Market, Outlooks, calibrate, plan
from hpcast.invest.calibrate import GOAL
from hpcast.store import FeatureStore
from hpcast.store.ingest import DEFAULT_ASSETS, backfill

ALLOCATIONS = {"60/40 sp500/gold": {"sp500": 60, "gold": 40},
               "40/30/30 sp500/gold/nasdaq": {"sp500": 40, "gold": 30, "nasdaq": 30},
               "100 sp500": {"sp500": 100}}
ASKED = {"sp500": 40, "gold": 30, "bitcoin": 30}  # the second allocation
MONTHS = (3, 6)
NOISES = ("bootstrap", "filtered")


def _share(value: float | None, dates: int) -> str:
    return "—" if value is None or not dates else f"{value:.0%}"


def _ok(value: float | None, low: float, high: float) -> bool:
    return value is not None and low <= value <= high


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=5, help="business days between as-of dates [5]")
    parser.add_argument("--paths", type=int, default=2000, help="simulated paths per as-of date [2000]")
    parser.add_argument("--out", help="also write the table here as markdown")
    args = parser.parse_args()
    print(describe())
    with tempfile.TemporaryDirectory() as folder:
        store = FeatureStore(str(Path(folder) / "store"))
        backfill(store, list(DEFAULT_ASSETS))
        market = Market.from_store(store)
    try:
        plan(market, 1.0, ASKED, 6)
    except InputError as error:
        print(f"40/30/30 sp500/gold/bitcoin: {'; '.join(message for _, message in error.errors)}")
    lines = ["| allocation | months | noise | dates | 90% all | 50% all | 90% low vol | 90% mid vol | 90% high vol "
             "| 90% 2008-09 | 90% Q4 2018 | goals met | time |", "|---" * 13 + "|"]
    started = time.perf_counter()
    for label, allocation in ALLOCATIONS.items():
        for months in MONTHS:
            for noise in NOISES:
                began = time.perf_counter()
                result = calibrate(market, Outlooks(None), allocation, months=months, every=args.every,
                                   paths=args.paths, noise=noise)
                seconds = time.perf_counter() - began
                answer = result.to_dict()
                regimes, stress = answer["regimes"], answer["stress"]
                cells = [f"{_share(row['coverage']['0.9'], row['dates'])} ({row['dates']})"
                         for row in regimes.values()]
                storms = [stress.get(name) for name in ("2008-09 crisis", "Q4 2018")]
                cells += [f"{_share(row['coverage']['0.9'], row['dates'])} ({row['dates']})" if row else "—"
                          for row in storms]
                judged = [*regimes.values(), *(row for row in storms if row)]
                met = (all(_ok(row["coverage"]["0.9"], *GOAL) for row in judged)
                       and _ok(answer["coverage"]["0.5"], 0.45, 0.55))
                lines.append(f"| {label} | {months} | {noise} | {len(result.dates)} | {result.inside_90:.0%} | "
                             f"{answer['coverage']['0.5']:.0%} | " + " | ".join(cells)
                             + f" | {'yes' if met else 'no'} | {seconds:.0f} s |")
                print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(f"\n{table}\n\nevery {args.every} business days, {args.paths} paths, "
          f"{time.perf_counter() - started:.0f} s in all; {describe()}")
    if args.out:
        Path(args.out).write_text(f"{table}\n\n{describe()}\n")


if __name__ == "__main__":
    main()
