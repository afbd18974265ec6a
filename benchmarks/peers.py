"""Time to accuracy on the seed workload: the usual PyTorch loop, hpcast's recipe, Keras, Darts and
NeuralForecast, in one run.

Workload (the seed study): bundled S&P 500 adjusted closes as min-max scaled price levels (the scaler sees
the training span only), windows of 100, the next close as target, the last 20% of windows validate.
Model size: the seed's four LSTM layers 50-60-80-120 (dropout .2/.3/.4/.5) where a framework allows
per-layer sizes (plain PyTorch, hpcast, Keras); Darts and NeuralForecast stack equal layers, so they get
4 x 80 units (about the same ~180k weights) with dropout .35. Batch 32, Adam 1e-3 (hpcast: one-cycle
to ``--hpcast-lr``) and the MSE loss everywhere, otherwise each framework's documented defaults; 20 epochs
(NeuralForecast counts steps of 128 windows: the same number of windows).

- reference: the usual loop (one target per window, every window, constant lr, float32), 20 epochs.
- hpcast: `LSTMForecaster.fit` with its defaults: the log-return target (the network predicts the next
  standardised log-return; zero is the naive forecast) and the default recipe (a target at every step
  after a warm-up, windows every 10 steps, bf16 only on a GPU, one-cycle lr peaking at ``--hpcast-lr``),
  for ``--hpcast-epochs`` epochs.
- hpcast-level: the same recipe on the reference's own target (min-max scaled price levels), so the
  recipe's effect shows apart from the target's.
Both hpcast clocks include hpcast's own per-epoch validation pass; the others' do not. Their forecasts are
price paths (`LSTMForecaster.forecast_paths`), scored in the workload's scaled price space like the rest;
their training span ends at the same date as everyone's (checked).

Every run is a fresh process. The training clock pauses while a weights snapshot is taken every
``--cadence`` seconds of training (hpcast: at each epoch end, which is more often); snapshots are scored
after training on the validation windows, each framework predicting through its own public API. A
system's curve is the median over its seeds at each mark. T is the reference's median final validation
loss; "to T" is the first mark after which the median curve stays at or below T. The naive last-value
forecast is scored on the same windows: every LSTM on price levels stays far above it, only targets relative
to the last value come near it, and the summary says which (if any) end below it.

Run: ``python benchmarks/peers.py [--seeds 3] [--peer-seeds 1] [--plot docs/images/peers.png]``
(peers: ``make bench-peers`` installs them; a framework that is not installed is skipped with a note).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAYERS, DROPOUT, WINDOW, BATCH, LR = (50, 60, 80, 120), (0.2, 0.3, 0.4, 0.5), 100, 32, 1e-3
EQUAL_LAYERS, EQUAL_HIDDEN, EQUAL_DROPOUT = 4, 80, 0.35  # frameworks with one size for every layer
PEERS = {"keras": "tensorflow", "darts": "darts", "neuralforecast": "neuralforecast"}  # name: module needed


# -- the workload -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    prices: Any  # (N,) float64 numpy: the raw series
    scaler: Any  # hpcast Scaler: min-max, fitted on the training span only
    scaled: Any  # (N,) float32 numpy: the whole scaled series
    n_train: int  # training windows (stride 1); their inputs and targets lie in scaled[:n_train + WINDOW]
    first_val: int  # first validation window; validation windows run to the end of the series
    cutoff: str  # date of the last value the training span (and the scaler) sees

    def val_windows(self, length: int) -> Any:  # (V, length) numpy: the raw prices up to each window's end
        import numpy as np

        ends = np.arange(self.first_val, len(self.scaled) - WINDOW) + WINDOW
        return self.prices[ends[:, None] - length + np.arange(length)]

    @property
    def val_inputs(self) -> Any:  # (V, T) numpy
        import numpy as np

        starts = np.arange(self.first_val, len(self.scaled) - WINDOW)
        return self.scaled[starts[:, None] + np.arange(WINDOW)]

    @property
    def val_targets(self) -> Any:  # (V,)
        return self.scaled[self.first_val + WINDOW:]

    def loss(self, predictions: Any) -> float:
        import numpy as np

        predictions = np.asarray(predictions, dtype=np.float64).reshape(-1)
        return float(np.mean((predictions - self.val_targets.astype(np.float64)) ** 2))


def seed_config(**train: Any) -> Any:
    from hpcast.config import ModelConfig, RunConfig, TrainConfig

    return RunConfig(window=WINDOW, horizon=1, target="level", model=ModelConfig(LAYERS, DROPOUT),
                     train=TrainConfig(batch_size=BATCH, patience=10**6, **train))


def workload() -> Workload:
    from hpcast.data import load_bundled
    from hpcast.train.forecaster import prepare

    series = load_bundled("sp500").series()
    prepared = prepare(series, seed_config())
    return Workload(series.to_numpy(dtype="float64"), prepared.scaler, prepared.scaled.numpy(), prepared.n_train,
                    prepared.first_val, series.index[prepared.cutoff_position].date().isoformat())


# -- the training clock -----------------------------------------------------------------------------------
class Clock:
    """Seconds of training, with a weights snapshot at every ``cadence`` mark taken off the clock."""

    def __init__(self, cadence: float, snapshot: Any) -> None:
        self.cadence, self.snapshot = cadence, snapshot
        self.snapshots: list[tuple[float, Any]] = []
        self.started = self.paused = 0.0
        self.mark = cadence
        self.steps = 0

    def start(self) -> None:
        self.started, self.paused = time.perf_counter(), 0.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started - self.paused

    def step(self) -> None:
        """After every optimizer step: the weights after the step that crossed a mark stand for that mark."""
        self.steps += 1
        if self.elapsed() >= self.mark:
            paused = time.perf_counter()
            self.snapshots.append((self.mark, self.snapshot()))
            while self.elapsed() >= self.mark:
                self.mark += self.cadence
            self.paused += time.perf_counter() - paused

    def stop(self) -> float:
        total = self.elapsed()
        self.snapshots.append((total, self.snapshot()))
        return total


def _torch_snapshot(module: Any) -> Any:
    return lambda: {k: v.detach().clone() for k, v in module.state_dict().items()}


# -- the systems (each runs in its own process) -----------------------------------------------------------
def run_reference(data: Workload, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """The usual loop: materialised windows, a shuffling DataLoader, ``loss.item()`` every step."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from hpcast.models.lstm import LSTMNet

    scaled = torch.from_numpy(data.scaled)
    X = scaled.unfold(0, WINDOW, 1)[:data.n_train, :, None].clone()  # (N, T, 1), as np.array(windows) would
    Y = scaled[WINDOW:WINDOW + data.n_train, None].clone()  # (N, 1)
    torch.manual_seed(seed)
    model = LSTMNet(seed_config().model, input_size=1, horizon=1)  # Keras-style initialisation
    loader = DataLoader(TensorDataset(X, Y), batch_size=BATCH, shuffle=True)
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=LR), nn.MSELoss()
    clock = Clock(args.cadence, _torch_snapshot(model))
    clock.start()
    for _ in range(args.epochs):
        model.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()
            clock.step()
    seconds = clock.stop()
    val_X = torch.from_numpy(data.val_inputs)[:, :, None]
    curve = []
    for mark, state in clock.snapshots:
        model.load_state_dict(state)
        model.eval()
        with torch.no_grad():
            curve.append((mark, data.loss(model(val_X).numpy())))
    return {"curve": curve, "seconds": seconds, "epochs": args.epochs}


def run_hpcast(data: Workload, seed: int, args: argparse.Namespace, target: str = "log_return") -> dict[str, Any]:
    """hpcast's estimator with its default recipe on ``target``; a weights snapshot at every epoch's end
    (off the clock: the trainer times an epoch, validation included, before it reports progress)."""
    from dataclasses import replace

    from hpcast.data import load_bundled
    from hpcast.train.forecaster import LSTMForecaster

    forecaster = LSTMForecaster(replace(seed_config(epochs=args.hpcast_epochs, lr=args.hpcast_lr, seed=seed),
                                        target=target))
    snapshots: list[tuple[float, Any]] = []

    class Marks:  # the trainer's progress hook
        def start(self, total: int, done: int = 0) -> None: ...

        def advance(self, record: Any, best: float) -> None:
            elapsed = (snapshots[-1][0] if snapshots else 0.0) + record.seconds
            snapshots.append((elapsed, _torch_snapshot(forecaster.net)()))

        def finish(self) -> None: ...

    forecaster.fit(load_bundled("sp500").series(), "B", progress=Marks())
    assert forecaster.result is not None and forecaster.net is not None
    if forecaster.data_info["scaler_fitted_through"] != data.cutoff:
        raise RuntimeError(f"hpcast ({target}) trained through {forecaster.data_info['scaler_fitted_through']}, "
                           f"the workload through {data.cutoff}: the splits differ")
    windows, curve = data.val_windows(forecaster.min_history), []
    for mark, state in snapshots:
        forecaster.net.load_state_dict(state)
        curve.append((mark, data.loss(data.scaler.transform(forecaster.forecast_paths(windows)[:, 0]))))
    return {"curve": curve, "seconds": snapshots[-1][0], "epochs": len(snapshots),
            "recipe": forecaster.result.recipe}


def run_hpcast_level(data: Workload, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    return run_hpcast(data, seed, args, target="level")


def run_keras(data: Workload, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """The seed study's own model in Keras 3 (TensorFlow backend): Sequential LSTMs, ``fit``."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    X = np.lib.stride_tricks.sliding_window_view(data.scaled, WINDOW)[:data.n_train, :, None].copy()
    Y = data.scaled[WINDOW:WINDOW + data.n_train, None].copy()
    layers: list[Any] = [keras.Input((WINDOW, 1))]
    for k, (units, rate) in enumerate(zip(LAYERS, DROPOUT, strict=True)):
        layers += [keras.layers.LSTM(units, return_sequences=k < len(LAYERS) - 1), keras.layers.Dropout(rate)]
    model = keras.Sequential([*layers, keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(LR), loss="mse")
    clock = Clock(args.cadence, model.get_weights)

    class Marks(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            clock.start()

        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            clock.step()

    model.fit(X, Y, batch_size=BATCH, epochs=args.epochs, shuffle=True, verbose=0, callbacks=[Marks()])
    seconds = clock.stop()
    val_X, curve = data.val_inputs[:, :, None], []
    for mark, weights in clock.snapshots:
        model.set_weights(weights)
        curve.append((mark, data.loss(model.predict(val_X, batch_size=1024, verbose=0))))
    return {"curve": curve, "seconds": seconds, "epochs": args.epochs}


def _lightning_marks(clock: Clock) -> Any:
    """A Lightning callback that drives ``clock`` (Darts and NeuralForecast train through Lightning)."""
    try:
        from lightning.pytorch.callbacks import Callback  # type: ignore[import-not-found]
    except ImportError:
        from pytorch_lightning.callbacks import Callback

    class Marks(Callback):  # type: ignore[misc]
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            clock.snapshot = _torch_snapshot(pl_module)
            clock.start()

        def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any) -> None:
            clock.step()

    return Marks()


def _quiet_lightning() -> dict[str, Any]:
    import logging

    for name in ("lightning", "pytorch_lightning", "lightning.pytorch", "darts", "neuralforecast"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return {"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False, "logger": False}


def run_darts(data: Workload, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Darts' ``BlockRNNModel`` (LSTM), fitted on the training span; scored with ``historical_forecasts``."""
    import numpy as np
    from darts import TimeSeries
    from darts.models import BlockRNNModel

    clock = Clock(args.cadence, lambda: None)
    model = BlockRNNModel(input_chunk_length=WINDOW, output_chunk_length=1, model="LSTM", hidden_dim=EQUAL_HIDDEN,
                          n_rnn_layers=EQUAL_LAYERS, dropout=EQUAL_DROPOUT, batch_size=BATCH, n_epochs=args.epochs,
                          optimizer_kwargs={"lr": LR}, random_state=seed,
                          pl_trainer_kwargs={**_quiet_lightning(), "callbacks": [_lightning_marks(clock)]})
    series = TimeSeries.from_values(data.scaled.astype(np.float32))
    model.fit(series[:data.n_train + WINDOW], verbose=False)
    seconds = clock.stop()
    curve = []
    for mark, state in clock.snapshots:
        model.model.load_state_dict(state)
        forecasts = model.historical_forecasts(series, start=data.first_val + WINDOW, forecast_horizon=1, stride=1,
                                               retrain=False, last_points_only=True, verbose=False)
        curve.append((mark, data.loss(forecasts.values())))
    return {"curve": curve, "seconds": seconds, "epochs": args.epochs}


def run_neuralforecast(data: Workload, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """NeuralForecast's ``LSTM`` (robust scaler, MLP decoder: its defaults); scored by ``predict`` on one
    series per validation window."""
    import numpy as np
    import pandas as pd
    from neuralforecast import NeuralForecast
    from neuralforecast.losses.pytorch import MSE
    from neuralforecast.models import LSTM

    windows_per_step = 128  # its default windows_batch_size
    steps = math.ceil(args.epochs * data.n_train / windows_per_step)
    clock = Clock(args.cadence, lambda: None)
    model = LSTM(h=1, input_size=WINDOW, encoder_n_layers=EQUAL_LAYERS, encoder_hidden_size=EQUAL_HIDDEN,
                 encoder_dropout=EQUAL_DROPOUT, loss=MSE(), max_steps=steps, learning_rate=LR,
                 batch_size=BATCH, windows_batch_size=windows_per_step, random_seed=seed,
                 callbacks=[_lightning_marks(clock)], **_quiet_lightning())
    span = data.n_train + WINDOW
    train_frame = pd.DataFrame({"unique_id": "sp500", "ds": np.arange(span), "y": data.scaled[:span]})
    forecaster = NeuralForecast(models=[model], freq=1)
    forecaster.fit(df=train_frame)
    seconds = clock.stop()
    inputs = data.val_inputs  # (V, T): one short series per validation window
    val_frame = pd.DataFrame({"unique_id": np.repeat(np.arange(len(inputs)), WINDOW),
                              "ds": np.tile(np.arange(WINDOW), len(inputs)), "y": inputs.reshape(-1)})
    curve = []
    for mark, state in clock.snapshots:
        forecaster.models[0].load_state_dict(state)
        predicted = forecaster.predict(df=val_frame).sort_values("unique_id")
        curve.append((mark, data.loss(predicted["LSTM"].to_numpy())))
    return {"curve": curve, "seconds": seconds, "epochs": steps * windows_per_step / data.n_train}


RUNNERS = {"reference": run_reference, "hpcast": run_hpcast, "hpcast-level": run_hpcast_level, "keras": run_keras,
           "darts": run_darts, "neuralforecast": run_neuralforecast}
OURS = ("hpcast", "hpcast-level")


# -- the parent: runs, medians, table, plot ---------------------------------------------------------------
def _run_child(system: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", system, "--seed", str(seed), "--threads", str(args.threads),
               "--cadence", str(args.cadence), "--epochs", str(args.epochs), "--hpcast-epochs", str(args.hpcast_epochs),
               "--hpcast-lr", str(args.hpcast_lr)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "KERAS_BACKEND": "tensorflow"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{system} (seed {seed}) failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_curve(runs: list[dict[str, Any]], cadence: float) -> list[tuple[float, float]]:
    """The median over seeds at every mark up to the longest run; a run past its end keeps its last loss."""
    end = max(run["seconds"] for run in runs)
    marks = [cadence * k for k in range(1, int(end / cadence) + 1)] + [end]
    curve = []
    for mark in marks:
        values = []
        for run in runs:
            seen = [loss for t, loss in run["curve"] if t <= mark + 1e-9]
            values.append(seen[-1] if seen else math.inf)
        curve.append((mark, statistics.median(values)))
    return curve


def time_to(curve: list[tuple[float, float]], target: float) -> float:
    """First mark after which the curve stays at or below ``target`` (inf: it never settles there)."""
    settled = math.inf
    for mark, loss in reversed(curve):
        if loss > target:
            break
        settled = mark
    return settled


def loss_at(curve: list[tuple[float, float]], seconds: float) -> float:
    seen = [loss for mark, loss in curve if mark <= seconds + 1e-9]
    return seen[-1] if seen else math.inf


def plot(results: dict[str, Any], target: float, naive: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for system, entry in results.items():
        curve = entry["median_curve"]
        ours = system in OURS  # drawn thicker and on top: hpcast's curve lies on the naive line
        ax.plot([t for t, _ in curve], [v for _, v in curve], marker=".", linewidth=2.2 if ours else 1.2,
                zorder=3 if ours else 2, label=f"{system} ({entry['seeds']} seeds)")
    ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"T = reference's final ({target:.2e})")
    ax.axhline(naive, color="grey", linestyle=":", linewidth=1, label=f"naive last value ({naive:.2e})")
    ax.set(yscale="log", xlabel="seconds of training (this machine)", ylabel="validation MSE (scaled price level)",
           title="Seed workload: validation loss against training time (median over seeds)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(value: float, spec: str) -> str:
    return "never" if math.isinf(value) else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds for the reference and both hpcast rows")
    parser.add_argument("--peer-seeds", type=int, default=1, help="seeds for each installed peer")
    parser.add_argument("--systems", default=",".join(RUNNERS), help="comma-separated subset of " + ",".join(RUNNERS))
    parser.add_argument("--epochs", type=int, default=20, help="epochs of the reference and the peers")
    parser.add_argument("--cadence", type=float, default=2.0, help="seconds of training between snapshots")
    parser.add_argument("--hpcast-epochs", type=int, default=20)
    parser.add_argument("--hpcast-lr", type=float, default=2e-3, help="hpcast's peak lr (one-cycle)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--plot", type=Path, default=Path("peers.png"), help="where the curves' PNG goes")
    parser.add_argument("--json", type=Path, default=None, help="also write every run's curve here")
    parser.add_argument("--child", choices=list(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
        import torch

        torch.set_num_threads(args.threads)
        if args.child == "keras":
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        print(json.dumps(RUNNERS[args.child](workload(), args.seed, args)))
        return

    data = workload()
    naive = data.loss(data.val_inputs[:, -1])
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(RUNNERS))
    if unknown or "reference" not in systems:
        parser.error(f"--systems ({args.systems}) must include 'reference' and name only {', '.join(RUNNERS)}")
    notes, results = [], {}
    for system in systems:
        if system in PEERS and importlib.util.find_spec(PEERS[system]) is None:
            notes.append(f"{system}: not installed, skipped (make bench-peers)")
            continue
        seeds = args.seeds if system in ("reference", *OURS) else args.peer_seeds
        runs = []
        for seed in range(seeds):
            started = time.perf_counter()
            runs.append(_run_child(system, seed, args))
            print(f"  {system} seed {seed}: {runs[-1]['seconds']:.1f} s of training, final "
                  f"{runs[-1]['curve'][-1][1]:.3e} ({time.perf_counter() - started:.0f} s with scoring)", flush=True)
        results[system] = {"seeds": seeds, "runs": runs, "median_curve": median_curve(runs, args.cadence)}

    target = statistics.median(run["curve"][-1][1] for run in results["reference"]["runs"])
    reference_to_t = time_to(results["reference"]["median_curve"], target)
    print(f"\nseed workload: S&P 500 price levels, window {WINDOW}, {data.n_train} training / "
          f"{len(data.val_targets)} validation windows, {args.threads} threads; T = {target:.3e}")
    header = (f"{'system':<16}{'seeds':>6}{'s/epoch':>9}{'epochs':>8}{'epochs to T':>12}{'s to T':>8}"
              f"{'speed-up':>9}{'loss @30 s':>12}{'final loss':>12}{'naive':>10}")
    print(header)
    for system, entry in results.items():
        curve, runs = entry["median_curve"], entry["runs"]
        per_epoch = statistics.median(run["seconds"] / run["epochs"] for run in runs)
        epochs = statistics.median(run["epochs"] for run in runs)
        to_t = time_to(curve, target)
        speed_up = "—" if math.isinf(to_t) else f"{reference_to_t / to_t:.1f}×"
        entry.update(seconds_per_epoch=per_epoch, seconds_to_t=to_t, loss_at_30=loss_at(curve, 30.0),
                     final=statistics.median(run["curve"][-1][1] for run in runs))
        print(f"{system:<16}{entry['seeds']:>6}{per_epoch:>9.2f}{epochs:>8.0f}{_fmt(to_t / per_epoch, '.1f'):>12}"
              f"{_fmt(to_t, '.0f'):>8}{speed_up:>9}{entry['loss_at_30']:>12.3e}"
              f"{entry['final']:>12.3e}{naive:>10.2e}")
    for note in notes:
        print(f"note: {note}")
    best = min(results, key=lambda system: results[system]["final"])
    below = [system for system, entry in results.items() if entry["final"] < naive]
    print(f"naive last-value forecast: {naive:.3e} on the same windows; final losses below it: "
          f"{', '.join(below) or 'none'} (the best, {best}'s, is {results[best]['final'] / naive:.3f}× naive's). "
          "The validation windows end above the training range, where an LSTM on globally min-max-scaled levels "
          "must extrapolate; a target relative to the last value (hpcast's log-return) or a per-window scaler "
          "(NeuralForecast's default) sidesteps that, and starts out as the naive forecast.")
    ref, peers = results["reference"], {s: e["loss_at_30"] for s, e in results.items() if s in PEERS}
    for system in (s for s in OURS if s in results):
        ours = results[system]
        speed = reference_to_t / ours["seconds_to_t"]
        print(f"{system} reaches and holds T {_fmt(speed, '.1f')}× sooner than the reference (goal ≥ 10×); final "
              f"{ours['final']:.3e} vs {ref['final']:.3e} ({'lower' if ours['final'] < ref['final'] else 'NOT lower'})")
        if peers:
            beaten = all(ours["loss_at_30"] < loss for loss in peers.values())
            print(f"  after 30 s: {system} {ours['loss_at_30']:.3e}; "
                  + ", ".join(f"{s} {v:.3e}" for s, v in peers.items())
                  + f" ({'lower than every peer' if beaten else 'NOT lower than every peer'})")
    plot(results, target, naive, args.plot)
    print(f"curves: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps({"target": target, "naive": naive, "results": results}, indent=1))


if __name__ == "__main__":
    main()
