"""`hpcast tune` against NeuralForecast's `AutoLSTM` (its defaults: 10 trials) on the same wall-clock budget.

Workload: the seed workload's series as `benchmarks/peers.py` prepares it (`peers.workload`): bundled S&P 500
adjusted closes, min-max scaled on the training span only. One split for both systems:
- training span: every value through the workload's cutoff (its training and validation windows' inputs,
  ``first_val + WINDOW`` values). Both systems tune on it, each with its own internal validation:
  AutoLSTM its last ``--nf-val-size`` values (default: 20% of the span, the workload's and hpcast's
  validation share; NeuralForecast's own default would be ``val_size = h`` = one value), hpcast its
  estimator's early-stopping split (the last ``val_fraction`` = 20% of the span's windows).
- held out: the values after the cutoff (the workload's validation targets), which neither search sees.
  Each system's best configuration is refit on the whole span as its library does it (AutoLSTM inside its
  ``fit``; hpcast: the best trial's config fitted by its estimator) and forecasts every held-out value one
  step ahead from the history before it (AutoLSTM: ``NeuralForecast.predict`` on one short series per
  held-out date, as peers.py does; hpcast: ``forecast_paths``).
Held-out loss, the same for all three: MSE of those one-step-ahead forecasts in the workload's scaled price
units (peers.py's ``Workload.loss``), beside the naive last-value forecast's.

AutoLSTM: ``num_samples=10``, its ``default_config`` and search backend (ray; optuna where ray is not
installed), horizon 1, its default training loss (MAE), quiet Lightning. (Its ``input_size`` choice -1
becomes 3 * h = 3 in NeuralForecast 3.x, with a warning; the table shows the choice as drawn.) Its ``fit``
(search + refit) is timed with ``time.perf_counter``. hpcast then gets that wall time as its Optuna ``timeout``
(it stops *starting* trials then; the running trial finishes) with an unbounded trial count, its default space,
the pruner ``--pruner`` names (median by default) and base config (``RunConfig(horizon=1)``: log-return
target, 100 epochs, patience 10), ``--jobs`` processes (one torch thread each when more than one), no
MLflow. Its wall time is search + refit, so the two "wall s" columns count the same phases.
Trials: every trial that ran (completed + pruned; failed ones shown apart). Both use the same torch threads.

``--quick``: a smoke check (AutoLSTM with 2 trials of at most 50 steps, hpcast on the same budget).
``--max-steps N`` caps AutoLSTM's ``max_steps`` choices (500, 1000) at N and says so in the output: on
2 shared CPU cores its default trials take 85-225 s each (~25 min for 10), so the recorded run
(``results/tune.txt``) used ``--max-steps 250``.

Run: ``python benchmarks/tune.py [--quick] [--max-steps N] [--json benchmarks/results/tune.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _machine import describe  # benchmarks/_machine.py: python puts this folder on the path
from peers import WINDOW, Workload, _quiet_lightning, workload

HORIZON = 1
RESULTS = Path(__file__).parent / "results"


# -- NeuralForecast AutoLSTM ------------------------------------------------------------------------------
def _backend() -> str:
    import importlib.util

    return "ray" if importlib.util.find_spec("ray") is not None else "optuna"


def _autolstm_config(backend: str, max_steps: int | None) -> Any:
    """AutoLSTM's default config; with ``max_steps`` its step choices capped; Lightning kept quiet."""
    from neuralforecast.auto import AutoLSTM

    quiet = {k: v for k, v in _quiet_lightning().items() if k != "logger"}  # ray reports through Lightning
    ray_config = AutoLSTM.get_default_config(h=HORIZON, backend="ray")
    if max_steps is not None:
        from ray import tune

        ray_config["max_steps"] = tune.choice(sorted({min(s, max_steps) for s in (500, 1000)}))
    ray_config.update(quiet)
    return ray_config if backend == "ray" else AutoLSTM._ray_config_to_optuna(ray_config)


def _searched_values(config: dict[str, Any]) -> dict[str, Any]:
    keys = ("input_size", "encoder_hidden_size", "encoder_n_layers", "context_size", "decoder_hidden_size",
            "learning_rate", "max_steps", "batch_size", "random_seed")
    return {k: (round(config[k], 6) if isinstance(config[k], float) else config[k]) for k in keys if k in config}


def run_autolstm(data: Workload, samples: int, max_steps: int | None, val_size: int) -> dict[str, Any]:
    import numpy as np
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.auto import AutoLSTM

    backend = _backend()
    auto = AutoLSTM(h=HORIZON, num_samples=samples, backend=backend, config=_autolstm_config(backend, max_steps))
    span = data.first_val + WINDOW
    train_frame = pd.DataFrame({"unique_id": "sp500", "ds": np.arange(span), "y": data.scaled[:span]})
    forecaster = NeuralForecast(models=[auto], freq=1)
    started = time.perf_counter()
    forecaster.fit(df=train_frame, val_size=val_size)
    seconds = time.perf_counter() - started
    auto = forecaster.models[0]  # the fitted instance (NeuralForecast.fit works on its own copy)
    if backend == "ray":
        import ray

        frame = auto.results.get_dataframe()
        trials = len(frame)
        best = _searched_values(auto.results.get_best_result().config)
        ray.shutdown()
    else:
        trials = len(auto.results.trials)
        best = _searched_values(auto.results.best_trial.user_attrs["ALL_PARAMS"])
    inputs = data.val_inputs  # (V, T): one short series per held-out date (its input_size is at most 64)
    val_frame = pd.DataFrame({"unique_id": np.repeat(np.arange(len(inputs)), WINDOW),
                              "ds": np.tile(np.arange(WINDOW), len(inputs)), "y": inputs.reshape(-1)})
    predicted = forecaster.predict(df=val_frame).sort_values("unique_id")
    return {"system": f"AutoLSTM ({backend})", "trials": trials, "failed": 0, "seconds": seconds, "best": best,
            "held_out": data.loss(predicted["AutoLSTM"].to_numpy())}


# -- hpcast tune ------------------------------------------------------------------------------------------
def _span_panel(data: Workload) -> Any:
    from hpcast.data import load_bundled
    from hpcast.data.panel import Panel

    dataset = load_bundled("sp500")
    return Panel.from_series(dataset.series(), dataset.freq).until(data.cutoff)


def run_hpcast(data: Workload, budget: float, jobs: int, pruner: str = "median") -> dict[str, Any]:
    """`hpcast tune`'s search (its Objective, StudyJob and optimize) on the span for ``budget`` seconds, then
    the best trial's config refit on the whole span by its estimator and scored on the held-out dates."""
    from hpcast.config import RunConfig, from_dict
    from hpcast.forecast.table import model_spec
    from hpcast.tune.objective import Objective
    from hpcast.tune.runner import StudyJob, count_states, optimize
    from hpcast.tune.space import search_space

    span = _span_panel(data)  # the refit, like every trial, keeps its last val_fraction for early stopping
    base = RunConfig(horizon=HORIZON)
    space = search_space(base.kind, span.freq)
    storage = f"sqlite:///{tempfile.mkdtemp(prefix='hpcast-tune-bench-')}/optuna.db"  # a fresh study
    job = StudyJob("bench", storage, pruner, Objective(span, base, space), seed=base.train.seed, mlflow=False)
    started = time.perf_counter()
    study = optimize(job, trials=10**6, timeout=budget, jobs=jobs)
    search_seconds = time.perf_counter() - started
    counts = count_states(study)
    best_config = from_dict(RunConfig, study.best_trial.user_attrs["config"])
    forecaster = model_spec(best_config.kind).estimator_class()(best_config)
    forecaster.fit(span)
    seconds = time.perf_counter() - started
    last = str(span.dates.max())[:10]
    if last != data.cutoff:
        raise RuntimeError(f"hpcast's span ends {last}, the workload's {data.cutoff}: the splits differ")
    paths = forecaster.forecast_paths(data.val_windows(forecaster.min_history))  # (V, h) raw prices
    best = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in study.best_trial.params.items()}
    return {"system": "hpcast tune", "trials": counts["complete"] + counts["pruned"], "failed": counts["failed"],
            "complete": counts["complete"], "pruned": counts["pruned"], "seconds": seconds,
            "search_seconds": search_seconds, "best": best,
            "held_out": data.loss(data.scaler.transform(paths[:, 0]))}


# -- the report -------------------------------------------------------------------------------------------
def print_table(rows: list[dict[str, Any]], naive: float) -> None:
    print(f"{'system':<20}{'trials':>7}{'wall s':>9}{'held-out MSE':>14}  best config")
    for row in rows:
        print(f"{row['system']:<20}{row['trials']:>7}{row['seconds']:>9.1f}{row['held_out']:>14.4e}  "
              f"{json.dumps(row['best'])}")
    print(f"{'naive (last value)':<20}{'—':>7}{'—':>9}{naive:>14.4e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--quick", action="store_true", help="AutoLSTM 2 trials of <= 50 steps; same budget rule")
    parser.add_argument("--samples", type=int, default=None, help="AutoLSTM num_samples [10; --quick: 2]")
    parser.add_argument("--max-steps", type=int, default=None, help="cap AutoLSTM's max_steps choices [--quick: 50]")
    parser.add_argument("--nf-val-size", type=int, default=None, help="AutoLSTM's validation values [20%% of span]")
    parser.add_argument("--jobs", type=int, default=1, help="hpcast trial processes (hpcast tune --jobs)")
    parser.add_argument("--pruner", choices=["median", "halving", "none"], default="median",
                        help="hpcast tune --pruner [median]")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", type=Path, default=None, help="where the results go [results/tune(_quick).json]")
    args = parser.parse_args()
    samples = args.samples or (2 if args.quick else 10)
    max_steps = args.max_steps or (50 if args.quick else None)
    if samples < 1 or (max_steps is not None and max_steps < 1) or args.jobs < 1:
        parser.error(f"--samples ({samples}), --max-steps ({max_steps}) and --jobs ({args.jobs}) must be >= 1")
    import torch

    torch.set_num_threads(args.threads)
    print(describe())
    data = workload()
    span = data.first_val + WINDOW
    val_size = args.nf_val_size or round(0.2 * span)
    naive = data.loss(data.val_inputs[:, -1])
    print(f"seed workload: S&P 500 scaled price levels; training span {span} values (through {data.cutoff}), "
          f"held out {len(data.val_targets)} values after it; horizon {HORIZON}")
    print(f"AutoLSTM: num_samples={samples}, default config, max_steps "
          f"{'default (500, 1000)' if max_steps is None else f'CAPPED at {max_steps}'}, val_size={val_size}",
          flush=True)
    auto = run_autolstm(data, samples, max_steps, val_size)
    print(f"  AutoLSTM: {auto['trials']} trials in {auto['seconds']:.1f} s (search + refit)", flush=True)
    print(f"hpcast tune: timeout {auto['seconds']:.1f} s (AutoLSTM's fit wall time), jobs={args.jobs}, "
          f"pruner {args.pruner}", flush=True)
    ours = run_hpcast(data, auto["seconds"], args.jobs, args.pruner)
    print(f"  hpcast: {ours['complete']} complete + {ours['pruned']} pruned ({ours['failed']} failed) in "
          f"{ours['search_seconds']:.1f} s of search, {ours['seconds']:.1f} s with the refit", flush=True)
    print("\nheld-out loss: MSE of one-step-ahead forecasts in the workload's scaled price units "
          f"({len(data.val_targets)} dates after {data.cutoff})")
    print_table([auto, ours], naive)
    ratio = ours["trials"] / auto["trials"]
    print(f"trials >= 5x AutoLSTM's: {ours['trials']} / {auto['trials']} = {ratio:.1f}x  "
          f"{'PASS' if ratio >= 5 else 'FAIL'}")
    print(f"lower held-out loss: {ours['held_out']:.4e} vs {auto['held_out']:.4e}  "
          f"{'PASS' if ours['held_out'] < auto['held_out'] else 'FAIL'}  (naive {naive:.4e})")
    if max_steps is not None:
        print(f"note: AutoLSTM's max_steps choices were capped at {max_steps} (defaults 500, 1000)")
    if ours["seconds"] > auto["seconds"]:
        print(f"note: hpcast ran {ours['seconds'] - auto['seconds']:.1f} s past the budget (its last trial runs to "
              "its end after the timeout, then the refit)")
    path = args.json or RESULTS / ("tune_quick.json" if args.quick else "tune.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"samples": samples, "max_steps": max_steps, "nf_val_size": val_size,
                                "threads": args.threads, "naive": naive, "rows": [auto, ours]}, indent=1))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
