"""Does one global LSTM with covariates forecast the bundled stocks and indices better than one LSTM per
series without them, and better than naive? Per series, on the same walk-forward folds.

Panel: sp500, nasdaq, aapl, msft, goog (adj_close, NYSE sessions), cut at the stocks' last date
(2013-03-01) so every series has actuals after every fold origin. Three rows per series:

- ``global+cov``: one LSTM over all five series (per-series scalers on each training span, a 4-wide symbol
  embedding) with past covariates (log volume, the 50-day moving-average ratio, the 3-month Treasury yield
  from its publication) and the known-future calendar of the forecast dates;
- ``global``: the same global LSTM on past prices only (no covariates, no embedding), to tell what the
  pooling does from what the covariates do;
- ``per-series``: one LSTM per series on its own past prices only (the default configuration);
- ``naive``: the last value.

Every model is refitted on each fold's history only, with the default configuration (chosen on
AirPassengers folds by ``benchmarks/defaults_sweep.py``, never on these), so nothing here was tuned on the
folds it reports. MASE is each series' error over its own in-sample one-step naive error; the DM p-value
is the Diebold-Mariano test (HLN correction, squared loss, lag h-1) of each model against that series'
naive forecast. The covariate panel starts 49 rows later (the moving average needs 50 values), which
shortens the global model's histories by that much; the fold origins are the same dates.

Usage:
    python benchmarks/panel_skill.py                   # 6 folds of 30 steps (about 30-60 min on 2 cores)
    python benchmarks/panel_skill.py --folds 2 --epochs 5  # a quick look
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
import warnings
from pathlib import Path

import pandas as pd

from _machine import describe
from hpcast.config import BacktestConfig, RunConfig, TrainConfig
from hpcast.evaluate.metrics import METRICS
from hpcast.evaluate.significance import dm_by_series
from hpcast.evaluate.walkforward import backtest, score
from hpcast.forecast.lstm import LSTMConfig
from hpcast.inputs import load_panel

SERIES = "sp500,nasdaq,aapl,msft,goog"
COVARIATES = "volume,ma_ratio:50,macro:rate_3m,calendar"
END = "2013-03-01"
MODELS = ("global+cov", "global", "per-series")  # the LSTM rows, as the table names them
PER_SERIES = [name for name, metric in METRICS.items() if metric.per_series]  # the report's per-series metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--folds", type=int, default=6, help="walk-forward folds, one every horizon [6]")
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs, help="maximum epochs per fit [the default]")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "panel_skill.json"),
                        help="where the figures go")
    args = parser.parse_args()
    print(describe())
    base = RunConfig(train=TrainConfig(epochs=args.epochs))
    h = base.resolved("B").horizon
    folds = BacktestConfig(test_size=h * args.folds, step=h)
    plain = load_panel(datasets=SERIES).until(END)
    covariates = load_panel(datasets=SERIES, covariates=COVARIATES).until(END)
    runs = {}
    started = time.perf_counter()
    per_series = dataclasses.replace(base, backtest=dataclasses.replace(folds, scope="per-series"))
    runs["per-series"] = backtest(plain, config=per_series, models=("lstm", "naive"))
    seconds_per_series = time.perf_counter() - started
    started = time.perf_counter()
    global_config = dataclasses.replace(base, model=LSTMConfig(embedding=4), backtest=folds)
    runs["global+cov"] = backtest(covariates, config=global_config, models=("lstm",))
    seconds_global = time.perf_counter() - started
    started = time.perf_counter()
    runs["global"] = backtest(plain, config=dataclasses.replace(base, backtest=folds), models=("lstm",))
    seconds_plain_global = time.perf_counter() - started
    assert runs["per-series"].origins == runs["global+cov"].origins == runs["global"].origins, "one set of folds"
    predictions = pd.concat([runs[name].predictions.replace({"model": {"lstm": name}}) for name in MODELS],
                            ignore_index=True)
    table = score(predictions, ("model", "symbol"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        tests = {model: dm_by_series(predictions[predictions["model"].isin([model, "naive"])], model, "naive")
                 for model in MODELS}
    rows = []
    for symbol in plain.symbols:
        for model in (*MODELS, "naive"):
            row = table.loc[(model, symbol)]
            p = tests[model].loc[symbol, "dm_pvalue"] if model in tests else float("nan")
            rows.append({"series": symbol, "model": model, **{name: row[name] for name in PER_SERIES},
                         "dm_pvalue_vs_naive": p})
    frame = pd.DataFrame(rows)
    pooled = score(predictions)[PER_SERIES]
    print(f"folds: {', '.join(runs['per-series'].origins)} ({args.folds} x {h} steps); epochs <= {args.epochs}")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print("pooled over the five series:")
    print(pooled.to_string(float_format=lambda v: f"{v:.3f}"))
    print(f"wall time: per-series LSTMs {seconds_per_series:.0f} s (with naive), global LSTM with covariates "
          f"{seconds_global:.0f} s, global LSTM without {seconds_plain_global:.0f} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "machine": describe(), "folds": runs["per-series"].origins, "horizon": h, "epochs": args.epochs,
        "covariates": COVARIATES, "rows": rows, "pooled": pooled.to_dict(orient="index"),
        "seconds": {"per-series": seconds_per_series, "global+cov": seconds_global,
                    "global": seconds_plain_global}}, indent=1))


if __name__ == "__main__":
    main()
