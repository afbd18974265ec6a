"""The LSTM's defaults, chosen on folds that the reported figures never use.

AirPassengers (144 months) splits in time:

- **tuning folds**: the series up to 1958-12 (120 months), backtested on its own last 24 months
  (2 folds × 12, origins 1956-12 and 1957-12). Every candidate runs there with seeds 0, 1, 2 and the one
  with the lowest median MASE wins;
- **reported folds**: the whole series, its last 24 months (origins 1958-12 and 1959-12), which no
  candidate was scored on. The winner and the shipped default run there with the same seeds, beside
  ARIMA (the airline model), seasonal naive, drift and naive on the same folds.

Every model is refitted on each fold's history only. MASE is scaled by the in-sample seasonal naive error
(AirPassengers declares a season of 12). Run: ``python benchmarks/defaults_sweep.py [--seeds 0,1,2]``
(26 minutes on a busy 2-core machine). The README's AirPassengers table and its "Choosing the defaults" table are
this script's output.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.config import BacktestConfig, RunConfig, TrainConfig
from hpcast.data import load_bundled
from hpcast.evaluate import HEADLINE, METRICS, backtest
from hpcast.forecast.lstm import LSTMConfig

HELD_OUT = 24  # months of reported folds at the end of the series
REPORTED = {"mae": ".1f", "rmse": ".1f", "mape": ".2f", HEADLINE.name: ".3f"}  # README columns: metric, format
CANDIDATES: dict[str, tuple[tuple[int, ...], float, float]] = {  # name: (layers, dropout, lr)
    "64, dropout .1, lr 3e-3": ((64,), 0.1, 3e-3),
    "64, dropout .1, lr 1e-2": ((64,), 0.1, 1e-2),
    "64, dropout .2, lr 3e-3": ((64,), 0.2, 3e-3),
    "32, dropout .1, lr 3e-3": ((32,), 0.1, 3e-3),
    "64-64, dropout .1, lr 1e-3": ((64, 64), 0.1, 1e-3),
    "128, dropout .2, lr 1e-3": ((128,), 0.2, 1e-3),
}
BASELINES = ("arima", "seasonal_naive", "drift", "naive")


def candidate_config(name: str, seed: int) -> RunConfig:
    layers, dropout, lr = CANDIDATES[name]
    return RunConfig(model=LSTMConfig(layers=layers, dropout=(dropout,) * len(layers)),
                     train=TrainConfig(lr=lr, seed=seed), backtest=BacktestConfig(test_size=HELD_OUT))


def default_name() -> str:
    """The candidate that is the shipped default (RunConfig()'s model and lr)."""
    shipped = RunConfig()
    for name, (layers, dropout, lr) in CANDIDATES.items():
        if (layers, (dropout,) * len(layers), lr) == (shipped.model.layers, shipped.model.dropout, shipped.train.lr):
            return name
    raise SystemExit("the shipped default is not among the candidates: add it")


def lstm_scores(series, name: str, seeds: list[int]) -> list[dict[str, float]]:
    rows = []
    for seed in seeds:
        result = backtest(series, "MS", candidate_config(name, seed), models=("lstm",))
        rows.append({**{k: float(result.metrics.loc["lstm", k]) for k in REPORTED}, **result.coverage["lstm"]})
    return rows


def reported_header() -> str:
    """The README table's heading: the reported metrics under their labels in `METRICS`, then coverage."""
    labels = [METRICS[name].label for name in REPORTED]
    return f"| model | {' | '.join(labels)} | 80% / 95% coverage |\n" + "|---" * (len(REPORTED) + 2) + "|"


def reported_row(model: str, row, headline_note: str = "", coverage: str = "—") -> str:
    """One README table row: ``row``'s reported metrics (``headline_note`` after the headline one)."""
    cells = [f"{row[name] * (100 if METRICS[name].percent else 1):{spec}}"
             + (headline_note if name == HEADLINE.name else "") for name, spec in REPORTED.items()]
    return f"| {model} | {' | '.join(cells)} | {coverage} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds [default: 0,1,2]")
    args = parser.parse_args()
    print(describe())
    seeds = [int(s) for s in args.seeds.split(",")]
    series = load_bundled("air_passengers").series()
    tuning = series.iloc[:-HELD_OUT]
    started = time.perf_counter()

    print(f"\ntuning folds: {tuning.index[-HELD_OUT - 1]:%Y-%m} and {tuning.index[-13]:%Y-%m} origins, "
          f"data through {tuning.index[-1]:%Y-%m}; seeds {seeds}")
    print(f"| candidate | tuning {HEADLINE.label} (median) | per seed |\n|---|---|---|")
    medians = {}
    for name in CANDIDATES:
        scores = [row[HEADLINE.name] for row in lstm_scores(tuning, name, seeds)]
        medians[name] = statistics.median(scores)
        print(f"| {name} | {medians[name]:.3f} | {', '.join(f'{s:.3f}' for s in scores)} |", flush=True)
    winner, shipped = HEADLINE.best(medians), default_name()
    print(f"\nwinner on the tuning folds: {winner}; shipped default: {shipped}")

    print(f"\nreported folds: origins {series.index[-HELD_OUT - 1]:%Y-%m} and {series.index[-13]:%Y-%m} "
          "(never scored by the sweep)")
    print(reported_header())
    for name in dict.fromkeys([winner, shipped]):
        rows = lstm_scores(series, name, seeds)
        middle = sorted(rows, key=lambda row: row[HEADLINE.name])[len(rows) // 2]  # the median seed's row
        label = f"lstm ({name}{', winner' if name == winner else ''}{', default' if name == shipped else ''})"
        per_seed = ", ".join(f"{row[HEADLINE.name]:.3f}" for row in rows)
        print(reported_row(label, middle, f" (seeds: {per_seed})", f"{middle['0.8']:.0%} / {middle['0.95']:.0%}"),
              flush=True)
    baselines = backtest(series, "MS", dataclasses.replace(RunConfig(), backtest=BacktestConfig(test_size=HELD_OUT)),
                         models=BASELINES).metrics
    for model in BASELINES:
        print(reported_row(model, baselines.loc[model]))
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
