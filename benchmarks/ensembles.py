"""Does a 5-member seed ensemble forecast better than one seed? Single-seed MASE (median and spread over 5
seeds) against the ensemble of the same 5 seeds, on the same walk-forward folds, beside naive.

Datasets: AirPassengers (the last 24 months, 2 folds of 12, MASE on the seasonal scale m = 12) and the
bundled S&P 500 (the default folds: 3 of 30 trading days, m = 1). Default configuration for both (chosen on
AirPassengers folds that end before these by ``benchmarks/defaults_sweep.py``), every model refitted per
fold on its history only; the ensemble's members are seeds 0-4, the single-seed rows the same seeds alone.

Usage:
    python benchmarks/ensembles.py               # both datasets (about 10-20 min on 2 cores)
    python benchmarks/ensembles.py --quick       # AirPassengers only, 3 seeds
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

from _machine import describe
from hpcast.config import BacktestConfig, RunConfig
from hpcast.evaluate.walkforward import backtest
from hpcast.inputs import load_panel

DATASETS = {"air_passengers": BacktestConfig(test_size=24), "sp500": BacktestConfig()}


def run(name: str, seeds: int) -> dict:
    panel = load_panel(dataset=name)
    base = dataclasses.replace(RunConfig(), backtest=DATASETS[name])
    singles = []
    started = time.perf_counter()
    for seed in range(seeds):
        config = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=seed))
        result = backtest(panel, config=config, models=("lstm", "naive"))
        singles.append(float(result.metrics.loc["lstm", "mase"]))
        naive = float(result.metrics.loc["naive", "mase"])
        coverage_single = result.coverage["lstm"]
    single_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ensemble = dataclasses.replace(base, train=dataclasses.replace(base.train, seed=0, ensemble=seeds))
    result = backtest(panel, config=ensemble, models=("lstm",))
    return {"dataset": name, "folds": result.origins, "horizon": result.horizon, "seeds": seeds,
            "single_mase": singles, "single_median": statistics.median(singles),
            "single_spread": [min(singles), max(singles)], "ensemble_mase": float(result.metrics.loc["lstm", "mase"]),
            "naive_mase": naive, "coverage_single_last_seed": coverage_single,
            "coverage_ensemble": result.coverage["lstm"],
            "seconds": {"singles": single_seconds, "ensemble": time.perf_counter() - started}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="AirPassengers only, 3 seeds")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "ensembles.json"),
                        help="where the figures go")
    args = parser.parse_args()
    print(describe())
    rows = [run(name, 3 if args.quick else 5) for name in (("air_passengers",) if args.quick else DATASETS)]
    print(f"{'dataset':<16}{'folds':>6}{'single MASE median [min, max]':>34}{'ensemble MASE':>15}{'naive':>8}"
          f"{'80%/95% held (ensemble)':>26}")
    for row in rows:
        spread = f"{row['single_median']:.3f} [{row['single_spread'][0]:.3f}, {row['single_spread'][1]:.3f}]"
        held = "/".join(f"{share:.0%}" for share in row["coverage_ensemble"].values())
        print(f"{row['dataset']:<16}{len(row['folds']):>6}{spread:>34}{row['ensemble_mase']:>15.3f}"
              f"{row['naive_mase']:>8.3f}{held:>26}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": describe(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
