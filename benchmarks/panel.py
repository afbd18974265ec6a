"""One global model over a panel: training throughput, peak memory and a global vs per-series backtest.

Workload: a synthetic panel of ``--series`` (500) series x ``--years`` (20) years of business days (about
5,200 rows each) x 8 covariates plus the target, built directly as arrays (geometric random walks, so prices
stay positive and log-returns work; covariates are standard normal noise). Settings: LSTM 32 (dropout .1),
window 60, horizon 5, batch 256, the log-return target, float32; the same config everywhere.

Goals, each printed beside its measured figure with PASS or FAIL:

1. Throughput: training samples/s of ONE global model on the panel (`prepare_panel`, `PanelWindows.batches`,
   the trainer, as `RecurrentForecaster` trains) within 10% of a single series of the same total length (the
   panel's rows as one series: same values, same covariates, same config, the same number of training
   windows less the windows a series boundary removes). The reference is measured in the same run, and epochs
   alternate between the two so drift of a shared machine hits both alike. Over the epochs after the first,
   the table gives the median of each epoch's ``samples / seconds`` (`TrainResult.history`; the seconds
   include the epoch's validation pass) and the goal the median of the per-epoch ratios, panel epoch over the
   reference epoch next to it; preparation is not timed. An epoch trains on every k-th training window of
   each series (k set so it holds about ``--windows`` windows) and validates on every k-th validation window:
   the cost of a window does not depend on how many an epoch holds, and the windows still span the whole
   buffer. Run for ``targets="last"`` (one target per window) and for the default recipe (``targets="all"``,
   the thinning replacing its stride).
2. Memory: peak resident memory growth of a fresh process, from before it builds the panel to after it has
   prepared it and trained an epoch, at most 2 x the panel's buffer (``Panel.values``) plus the model
   (weights, gradients and Adam's two moments). Torch is warmed up (one tiny training step) before the
   baseline, so its one-off allocations do not count. The peak is Linux's VmHWM, reset to the current
   resident set at the baseline (``ru_maxrss`` alone kept the imports' peak, which hid a 50-series panel
   entirely). The table splits the peak by phase.
3. Backtest: wall time of ``backtest(panel, models=("lstm",))`` on the bundled panel (sp500, nasdaq, aapl,
   msft, goog) with ``BacktestConfig(scope="global")`` (one network per fold) beside ``scope="per-series"``
   (five per fold; the reference), ``--folds`` folds of the horizon each and ``--backtest-epochs`` epochs,
   the default recipe; the median of ``--backtest-repeats`` runs of each, in alternating order. Goal: the
   global backtest takes no longer than the per-series one (x 1.10 for noise): it trains on the same
   windows, in one model instead of five. (The stocks end in 2013 and the indices in 2018, so the folds at
   the end of the panel's dates score sp500 and nasdaq only; all five series train.)

Torch runs on ``--threads`` (1) thread: the goals are ratios, and on a shared 2-core machine two OpenMP
threads measured 146 ms per training step against one thread's 33 (median; coefficient of variation 1.24
against 0.20).

Run: ``python benchmarks/panel.py [--quick]`` (quick: 50 series, fewer windows and epochs, one fold: under a
minute; the full run about 3 minutes on a shared 2-core machine).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from hpcast.config import BacktestConfig, RunConfig, TrainConfig
from hpcast.data.panel import Panel
from hpcast.forecast.lstm import LSTMConfig
from hpcast.forecast.panel_windows import PanelWindows, prepare_panel
from hpcast.models.lstm import LSTMNet
from hpcast.train.rules import EpochRecord
from hpcast.train.trainer import train

WINDOW, HORIZON, BATCH, LAYERS, DROPOUT, COVARIATES = 60, 5, 256, (32,), (0.1,), 8
BUNDLED = ("sp500", "nasdaq", "aapl", "msft", "goog")
THROUGHPUT_GOAL, MEMORY_GOAL, BACKTEST_GOAL = 0.90, 2.0, 1.10


def run_config(targets: str = "last", epochs: int = 1) -> RunConfig:
    return RunConfig(window=WINDOW, horizon=HORIZON, model=LSTMConfig(layers=LAYERS, dropout=DROPOUT),
                     train=TrainConfig(epochs=epochs, batch_size=BATCH, seed=0, targets=targets, precision="fp32"))


# -- data ---------------------------------------------------------------------------------------------------
def synthetic_panel(series: int, years: int, seed: int = 0) -> Panel:
    """``series`` geometric random walks on the same business days, each with ``COVARIATES`` noise columns,
    written series by series into one ``(N, 1 + COVARIATES)`` buffer (no frame, no full-size temporary)."""
    end = pd.Timestamp("2025-12-31")
    days = pd.bdate_range(end - pd.DateOffset(years=years) + pd.Timedelta(days=1), end).as_unit("ns").to_numpy()
    rows = len(days)
    rng = np.random.default_rng(seed)
    values = np.empty((series * rows, 1 + COVARIATES))  # (N, F)
    for s in range(series):
        block = values[s * rows:(s + 1) * rows]  # (rows, F), a view
        block[:, 0] = 50.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.015, rows)))
        block[:, 1:] = rng.standard_normal((rows, COVARIATES))
    offsets = np.arange(series + 1, dtype=np.int64) * rows
    columns = ("close", *(f"x{k}" for k in range(COVARIATES)))
    return Panel(values, offsets, np.tile(days, series), tuple(f"S{s:04d}" for s in range(series)), columns,
                 "B", ("weekdays",) * series, name="synthetic")


def as_one_series(panel: Panel) -> Panel:
    """The panel's rows, same buffer, as one series. It is dated hourly (millions of business days do not fit
    datetime64[ns]); nothing in training reads dates."""
    n = len(panel.values)
    dates = np.datetime64("1900-01-01", "ns") + np.arange(n) * np.timedelta64(3600, "s").astype("m8[ns]")
    return Panel(panel.values, np.array([0, n], dtype=np.int64), dates, ("one",), panel.columns, panel.freq,
                 ("weekdays",), name="one series")


def bundled_panel() -> Panel:
    try:
        from hpcast.inputs import load_panel
    except ImportError:  # built by hand where load_panel is not there yet
        from hpcast.data import load_bundled

        datasets = [load_bundled(name) for name in BUNDLED]
        return Panel.from_frames({d.name: Panel.from_dataset(d).frame(0) for d in datasets}, "B",
                                 {d.name: d.calendar for d in datasets}, name="bundled")
    return load_panel(datasets=",".join(BUNDLED))


# -- goal 1: throughput -------------------------------------------------------------------------------------
def network(config: RunConfig, width: int) -> LSTMNet:
    torch.manual_seed(config.train.seed)
    return LSTMNet(config.model, input_size=width, horizon=HORIZON, kernels=config.train.kernels)


def thinning(windows: PanelWindows, per_epoch: int) -> int:
    """The k that leaves about ``per_epoch`` of the training windows."""
    return max(1, int(windows.splits[:, 0].sum()) // per_epoch)


def epochs_alternating(prepared: dict[str, PanelWindows], config: RunConfig, stride: int,
                       rounds: int) -> dict[str, list[EpochRecord]]:
    """``rounds`` one-epoch runs of each data set in turn, each continuing its own network."""
    every_step = config.train.targets == "all"
    data, nets = {}, {}
    for name, windows in prepared.items():
        val = np.ascontiguousarray(windows.starts("val")[::stride])
        data[name] = (windows.batches(windows.starts("train", stride), every_step, config.train.series_weights),
                      windows.batches(val))
        nets[name] = network(config, windows.buffer.shape[1])
    records: dict[str, list[EpochRecord]] = {name: [] for name in prepared}
    for _ in range(rounds):
        for name in prepared:
            records[name] += train(nets[name], *data[name], config.train).history
    return records


def throughput(panel: Panel, args: argparse.Namespace) -> tuple[list[tuple], dict[str, float]]:
    """Rows of the throughput table and, per recipe, the panel's samples/s over the single series'."""
    sources = {"one series (reference)": as_one_series(panel), f"panel, {panel.n_series} series": panel}
    prepared, seconds = {}, {}
    for name, source in sources.items():
        started = time.perf_counter()
        prepared[name] = prepare_panel(source, run_config())
        seconds[name] = time.perf_counter() - started
    stride = thinning(prepared[f"panel, {panel.n_series} series"], args.windows)
    print("prepare_panel (not timed in the goal): " + ", ".join(f"{n} {s:.1f} s" for n, s in seconds.items())
          + f"; each epoch trains on every k-th training window and validates on every k-th, k = {stride}")
    rows, ratios = [], {}
    for targets in args.recipes:
        records = epochs_alternating(prepared, run_config(targets), stride, args.rounds)
        rates = {name: [r.samples / r.seconds for r in history[1:] or history] for name, history in records.items()}
        reference = rates[next(iter(rates))]
        for name, history in records.items():
            later = history[1:] or history
            pairs = statistics.median(ours / ref for ours, ref in zip(rates[name], reference, strict=True))
            rows.append((targets, name, later[0].samples, statistics.median(r.seconds for r in later),
                         statistics.median(rates[name]), statistics.median(r.data_seconds / r.seconds for r in later),
                         pairs))
        ratios[targets] = rows[-1][-1]
    return rows, ratios


# -- goal 2: memory (in a child process) --------------------------------------------------------------------
def _status_kb(field: str) -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(field + ":"))


def start_peak() -> tuple[int, str]:
    """This process's resident kB now, with the peak reset to it where Linux allows (``/proc/self/clear_refs``:
    else ``ru_maxrss``, whose peak may date from the imports and hide a smaller later one)."""
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM, the peak resident set, to the current one
        return _status_kb("VmRSS"), "VmHWM"
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"


def peak_kb(source: str) -> int:
    return _status_kb("VmHWM") if source == "VmHWM" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(series: int, years: int, per_epoch: int) -> None:
    """Runs in its own process: peak RSS after each phase, printed as JSON."""
    config = run_config()
    warm = network(config, 1 + COVARIATES)  # torch's one-off allocations before the baseline
    train(warm, (torch.zeros(4, WINDOW, 1 + COVARIATES), torch.zeros(4, HORIZON)),
          (torch.zeros(2, WINDOW, 1 + COVARIATES), torch.zeros(2, HORIZON)), config.train)
    baseline, source = start_peak()
    peaks = {"baseline": baseline}
    panel = synthetic_panel(series, years)
    peaks["panel built"] = peak_kb(source)
    windows = prepare_panel(panel, config)
    peaks["prepare_panel"] = peak_kb(source)
    stride = thinning(windows, per_epoch)
    net = network(config, panel.values.shape[1])
    train(net, windows.batches(windows.starts("train", stride)),
          windows.batches(np.ascontiguousarray(windows.starts("val")[::stride])), config.train)
    peaks["one epoch trained"] = peak_kb(source)
    model = 4 * sum(p.numel() * p.element_size() for p in net.parameters())  # weights, grads, 2 Adam moments
    print(json.dumps({"peaks_kb": peaks, "peak_source": source, "panel_bytes": panel.values.nbytes, "buffer_bytes":
                      windows.buffer.element_size() * windows.buffer.numel(), "model_bytes": model}))


def memory(args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--memory-child", "--series", str(args.series), "--years", str(args.years),
               "--windows", str(args.windows), "--threads", str(args.threads)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the memory child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- goal 3: backtest ---------------------------------------------------------------------------------------
def backtests(args: argparse.Namespace) -> tuple[list[tuple], Panel]:
    """Per scope: median wall seconds over the repeats, folds, points scored and MASE of the last run."""
    from hpcast.evaluate.walkforward import backtest

    panel = bundled_panel()
    scopes = ["per-series", "global"]
    walls: dict[str, list[float]] = {scope: [] for scope in scopes}
    facts = {}
    for repeat in range(args.backtest_repeats):
        for scope in scopes if repeat % 2 == 0 else scopes[::-1]:  # alternate who runs first (and warms up)
            config = dataclasses.replace(run_config("all", args.backtest_epochs),
                                         backtest=BacktestConfig(test_size=HORIZON * args.folds, scope=scope))
            started = time.perf_counter()
            result = backtest(panel, config=config, models=("lstm",))
            walls[scope].append(time.perf_counter() - started)
            lstm = result.metrics.loc["lstm"]
            facts[scope] = (len(result.origins), int(lstm["points"]), float(lstm["mase"]))
    return [(scope, statistics.median(walls[scope]), *facts[scope]) for scope in scopes], panel


# -- the report ---------------------------------------------------------------------------------------------
def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_throughput(rows: list[tuple], ratios: dict[str, float]) -> None:
    print(f"\n{'recipe':<8}{'data':<26}{'windows/epoch':>14}{'s/epoch':>9}{'samples/s':>11}{'data share':>12}"
          f"{'x reference':>13}  (last column: median of the per-epoch ratios)")
    for targets, name, windows, seconds, rate, share, ratio in rows:
        print(f"{targets:<8}{name:<26}{windows:>14,}{seconds:>9.2f}{rate:>11,.0f}{share:>12.1%}{ratio:>12.2f}x")
    for targets, ratio in ratios.items():
        print(f"goal 1, throughput (targets={targets}): the global model trains at {ratio:.2f}x the single "
              f"series' samples/s (goal >= {THROUGHPUT_GOAL:.2f}x): {verdict(ratio >= THROUGHPUT_GOAL)}")


def report_memory(result: dict[str, Any]) -> None:
    peaks, mb = result["peaks_kb"], 1024 * 1024
    base = peaks["baseline"]
    panel, model = result["panel_bytes"], result["model_bytes"]
    print(f"\npanel buffer {panel / mb:,.1f} MB (float64), training buffer {result['buffer_bytes'] / mb:,.1f} MB "
          f"(float32), model {model / mb:,.2f} MB (weights, gradients, Adam moments)")
    print(f"{'peak RSS growth (' + result['peak_source'] + ') after':<32}{'MB':>9}{'x panel buffer':>16}")
    for phase, kb in peaks.items():
        if phase != "baseline":
            print(f"{phase:<32}{(kb - base) / 1024:>9,.1f}{(kb - base) * 1024 / panel:>15.2f}x")
    growth = (peaks["one epoch trained"] - base) * 1024
    limit = MEMORY_GOAL * panel + model
    print(f"goal 2, memory: peak growth {growth / mb:,.0f} MB = {growth / (panel + model):.2f}x (panel buffer + "
          f"model); limit 2 x panel + model = {limit / mb:,.0f} MB: {verdict(growth <= limit)}")


def report_backtest(rows: list[tuple], panel: Panel, args: argparse.Namespace) -> None:
    print(f"\nbacktest on {', '.join(panel.symbols)} ({', '.join(map(str, panel.lengths))} points), lstm only, "
          f"{args.folds} fold(s) of {HORIZON}, {args.backtest_epochs} epoch(s), default recipe, median of "
          f"{args.backtest_repeats} run(s) each")
    print(f"{'scope':<20}{'wall s':>8}{'folds':>7}{'points':>8}{'MASE':>8}{'x reference':>13}")
    reference = rows[0][1]
    for scope, wall, folds, points, mase in rows:
        label = f"{scope}{' (reference)' if scope == 'per-series' else ''}"
        print(f"{label:<20}{wall:>8.1f}{folds:>7}{points:>8}{mase:>8.3f}{wall / reference:>12.2f}x")
    ratio = rows[1][1] / reference
    print(f"goal 3, backtest: global takes {ratio:.2f}x the per-series wall time (goal <= {BACKTEST_GOAL:.2f}x): "
          f"{verdict(ratio <= BACKTEST_GOAL)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="50 series, 5,000 windows per epoch, 3 rounds, "
                        "one backtest of one fold of one epoch: a smoke run of every goal")
    parser.add_argument("--series", type=int, help="series in the synthetic panel [500; quick 50]")
    parser.add_argument("--years", type=int, default=20, help="years of business days per series [20]")
    parser.add_argument("--windows", type=int, help="training windows per epoch, about [20000; quick 5000]")
    parser.add_argument("--rounds", type=int, help="epochs per data set, alternating; the first is not counted "
                        "[7; quick 3]")
    parser.add_argument("--recipes", default="last,all", help="comma-separated targets settings to measure "
                        "[last,all]")
    parser.add_argument("--folds", type=int, help="backtest folds of one horizon each [2; quick 1]")
    parser.add_argument("--backtest-epochs", type=int, help="epochs per backtest fit [3; quick 1]")
    parser.add_argument("--backtest-repeats", type=int, help="backtests of each scope, alternating [2; quick 1]")
    parser.add_argument("--threads", type=int, default=1, help="torch threads [1: the goals are ratios, and on a "
                        "shared 2-core machine two threads measured 4x slower and 6x noisier per step than one]")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    quick = {"series": 50, "windows": 5000, "rounds": 3, "folds": 1, "backtest_epochs": 1, "backtest_repeats": 1}
    full = {"series": 500, "windows": 20000, "rounds": 7, "folds": 2, "backtest_epochs": 3, "backtest_repeats": 2}
    for key, value in (quick if args.quick else full).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    args.recipes = args.recipes.split(",")
    torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.series, args.years, args.windows)
        return
    print(describe())
    print(f"settings: LSTM {LAYERS} dropout {DROPOUT}, window {WINDOW}, horizon {HORIZON}, batch {BATCH}, "
          f"log-return target, fp32; {args.series} series x {args.years} years x {COVARIATES} covariates; "
          f"{args.rounds} epochs each (median of all but the first)")
    panel = synthetic_panel(args.series, args.years)
    print(f"synthetic panel: {panel.n_series} series x {panel.lengths[0]:,} rows = {len(panel.values):,} rows "
          f"x {panel.values.shape[1]} columns")
    report_throughput(*throughput(panel, args))
    del panel
    report_memory(memory(args))
    report_backtest(*backtests(args), args)


if __name__ == "__main__":
    main()
