"""The GPU path in one command (``make gpu-check``): GPU tests and benchmarks, each goal measured or not.

On a machine without a CUDA GPU (or without torch) it says so, writes a report that says so, and exits 0.
On a CUDA machine, within ``--budget`` seconds (480 by default, installs included) it
1. installs any wheels found in ``.whl/`` into a scratch folder (the device README's recipe: no index,
   no dependencies) and runs hpcast from ``src/`` on PYTHONPATH, not installed: the image's python3 has
   no registry to resolve hpcast's pins against (it has torch 2.11, hpcast pins 2.13), a build needs
   nothing but adds seconds and writes into the tree, and PYTHONPATH runs exactly the tree's code with
   its bundled data in place;
2. runs, one after another, each with its own time limit (cut to what the budget has left): every
   GPU-marked test (``pytest -m gpu`` on the test files that carry the mark, with ``HPCAST_TEST_GPU=1``
   so Triton compiles for the GPU instead of interpreting), ``benchmarks/kernels.py``, the Numba CUDA
   scratch LSTM (``--scratch-cuda``, below), the seed workload for 100 epochs on the GPU
   (``--seed-epochs``, below) and ``benchmarks/fleet.py --quick``; a failed step is recorded and the
   next one runs;
3. writes ``gpu-report.md`` and ``gpu-report.json`` (and the benchmarks' own JSON) to ``--out`` (default
   ``$OUT`` when set, else ``./gpu-report/``): device, driver, CUDA, torch, triton and numba versions, SM
   count, each step's exit code, time and output tail, and the issue's goals with what was measured:
   (a) 100 seed epochs <= 15 s, (b) the fused LSTM layer's forward + backward >= 1.5x cuDNN at batch 32,
   window 100, hidden <= 128, (c) K = 64 fused >= 20x 64 sequential cuDNN runs, (d) the scaling and MSE
   kernels >= 80% of the copy bandwidth measured in the same run, at 1e8 elements.
The exit code is non-zero only when a step failed (or did not fit the budget) on a GPU machine.

Two measurements live here because no benchmark script selects them: ``--scratch-cuda`` times one
epoch of the from-scratch LSTM on Numba CUDA against Numba on the CPU cores (``scratch_lstm.py``'s
seed-like workload: S&P 500 windows of 100, hidden 50, batch 256, float64), and ``--seed-epochs N``
trains the seed workload (``seed_workload.py``'s config, every lever of the recipe off) for N epochs on
the GPU through hpcast's trainer and reports the wall time after one warm-up epoch (Triton compiles).

What the GPU image lacks: of hpcast's dependencies it has no exchange-calendars, yfinance, duckdb,
mlflow, apscheduler, optuna, fastapi, uvicorn or gradio (KINDS.md's package list), and none of the steps
above imports any of them, so ``.whl/`` can stay empty. A step that one day needs one: fetch it here with
the README's ``pip download --no-deps --only-binary=:all: --python-version 3.12 ... -d .whl NAME==VERSION``
and carry ``.whl`` (64 MiB at most per call).

Run: ``python benchmarks/gpu_check.py [--out DIR] [--budget 480]``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
SITE = Path("/tmp/hpcast-site")
TAIL = 4000  # characters of each step's output kept in the report
SEED_EPOCHS = 100


@dataclass(frozen=True)
class Step:
    name: str
    argv: list[str]
    limit_s: int


@dataclass
class Outcome:
    name: str
    command: str
    returncode: int | None  # None: not started (the budget was spent)
    seconds: float
    limit_s: float
    timed_out: bool
    tail: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def cuda_device() -> tuple[str | None, str]:
    """(device name or None, why not): imports torch only, and only to ask whether CUDA is there."""
    try:
        import torch
    except ImportError:
        return None, "torch is not installed"
    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__} sees none"
    return torch.cuda.get_device_name(0), ""


def versions() -> dict[str, object]:
    """The device and the software that runs on it (call on a CUDA machine)."""
    import torch

    properties = torch.cuda.get_device_properties(0)
    found = {"device": properties.name, "sm_count": properties.multi_processor_count,
             "memory_gib": round(properties.total_memory / 2**30, 1), "cuda": torch.version.cuda,
             "python": platform.python_version()}
    for package in ("torch", "triton", "numba", "numba-cuda", "numpy"):
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    try:
        query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
        found["driver"] = subprocess.run(query, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as error:
        found["driver"] = f"unknown ({error})"
    return found


def run(name: str, argv: list[str], limit_s: float, env: dict[str, str]) -> Outcome:
    """Run ``argv`` in the repository root in its own process group; on timeout the whole group is killed."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    timed_out = False
    try:
        output, _ = process.communicate(timeout=limit_s)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
    seconds = time.perf_counter() - started
    print(f"[{name}] exit {process.returncode} in {seconds:.1f} s{' (time limit)' if timed_out else ''}", flush=True)
    return Outcome(name, " ".join(argv), process.returncode, seconds, limit_s, timed_out, (output or "")[-TAIL:])


def install_wheels(env: dict[str, str]) -> Outcome | None:
    """Install ``.whl/*.whl`` (if any) into `SITE` and put it first on PYTHONPATH."""
    wheels = sorted(str(p) for p in (ROOT / ".whl").glob("*.whl"))
    if not wheels:
        return None
    argv = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir",
            "--upgrade", "--target", str(SITE), *wheels]
    outcome = run("install .whl wheels", argv, 120, env)
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), env["PYTHONPATH"]])
    return outcome


def gpu_test_files() -> list[str]:
    """Test files that carry ``@pytest.mark.gpu`` (collecting only those keeps pytest from importing test
    modules whose dependencies the GPU image lacks)."""
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").rglob("test_*.py")
                  if "pytest.mark.gpu" in p.read_text(encoding="utf-8"))


def steps(out: Path) -> list[Step]:
    python, here = sys.executable, str(Path(__file__).relative_to(ROOT))
    return [
        Step("gpu tests", [python, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *gpu_test_files()],
             150),
        Step("kernels benchmark", [python, "benchmarks/kernels.py", "--json", str(out / "kernels.json")], 150),
        Step("scratch LSTM on Numba CUDA", [python, here, "--scratch-cuda"], 90),
        Step(f"seed workload, {SEED_EPOCHS} epochs", [python, here, "--seed-epochs", str(SEED_EPOCHS), "--json",
                                                      str(out / "seed.json")], 120),
        Step("fleet benchmark", [python, "benchmarks/fleet.py", "--quick", "--json", str(out / "fleet.json")], 240),
    ]


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def goals(seed: dict | None, kernels: dict | None, fleet: dict | None) -> list[dict[str, str]]:
    """The issue's four goals against the benchmarks' JSON (None: that benchmark left none)."""

    def verdict(met: bool) -> str:
        return "met" if met else "NOT met"

    rows = []
    seconds = seed and seed.get("seconds")
    rows.append({"goal": f"(a) {SEED_EPOCHS} seed epochs on the GPU", "target": "<= 15 s",
                 "measured": f"{seconds:.1f} s" if seconds else "not measured",
                 "verdict": verdict(seconds <= 15) if seconds else "not measured"})
    lstm = [r for r in (kernels or {}).get("lstm", []) if r["B"] == 32 and r["T"] == 100 and r["H"] <= 128
            and "fb_speedup" in r]
    worst = min(lstm, key=lambda r: r["fb_speedup"]) if lstm else None
    rows.append({"goal": "(b) fused LSTM layer fwd+bwd vs cuDNN, batch 32, window 100, hidden <= 128",
                 "target": ">= 1.5x at every hidden size",
                 "measured": ", ".join(f"H {r['H']}: {r['fb_speedup']:.2f}x" for r in lstm) or "not measured",
                 "verdict": verdict(worst["fb_speedup"] >= 1.5) if worst else "not measured"})
    k64 = [r for r in (fleet or {}).get("rows", []) if r["K"] == 64 and r["window"] == 100 and r["batch"] == 32
           and "speedup" in r]
    rows.append({"goal": "(c) K = 64 fused vs 64 sequential cuDNN runs (batch 32, window 100)",
                 "target": ">= 20x at every seed shape",
                 "measured": ", ".join(f"{r['shape']}: {r['speedup']:.1f}x" for r in k64) or "not measured",
                 "verdict": verdict(min(r["speedup"] for r in k64) >= 20) if k64 else "not measured"})
    memory = {r["kernel"]: r for r in (kernels or {}).get("memory", []) if r["elements"] == 10**8}
    wanted = [memory[k] for k in ("scale triton", "mse triton") if k in memory]
    rows.append({"goal": "(d) scaling and MSE kernels vs the copy bandwidth measured in the same run, 1e8",
                 "target": ">= 80% each",
                 "measured": ", ".join(f"{r['kernel']}: {r['share_of_copy']:.0%} ({r['gb_per_s']:.0f} GB/s)"
                                       for r in wanted) or "not measured",
                 "verdict": verdict(min(r["share_of_copy"] for r in wanted) >= 0.8) if len(wanted) == 2
                 else "not measured"})
    return rows


def write_report(out: Path, header: dict[str, object], outcomes: list[Outcome], goal_rows: list[dict[str, str]],
                 note: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu-report.json").write_text(json.dumps({**header, "note": note, "goals": goal_rows,
                                                     "steps": [asdict(o) for o in outcomes]}, indent=1) + "\n")
    lines = ["# hpcast GPU check", "", note, ""]
    lines += [f"- {key}: {value}" for key, value in header.items()]
    lines += ["", "| goal | target | measured | verdict |", "| --- | --- | --- | --- |"]
    lines += [f"| {g['goal']} | {g['target']} | {g['measured']} | {g['verdict']} |" for g in goal_rows]
    if outcomes:
        lines += ["", "| step | exit | seconds | limit |", "| --- | --- | --- | --- |"]
        lines += [f"| {o.name} | {'not run' if o.returncode is None else o.returncode}"
                  f"{' (time limit)' if o.timed_out else ''} | {o.seconds:.1f} | {o.limit_s:.0f} |" for o in outcomes]
        for o in outcomes:
            lines += ["", f"## {o.name}", "", f"`{o.command}`", "", "```", o.tail.rstrip(), "```"]
    (out / "gpu-report.md").write_text("\n".join(lines) + "\n")


def check(out: Path, budget_s: float) -> int:
    """The whole check (module docstring); returns the exit code."""
    started = time.perf_counter()
    device, why = cuda_device()
    header: dict[str, object] = {"cuda": device is not None, "python": platform.python_version()}
    if device is None:
        note = f"No CUDA GPU here ({why}): nothing was run or measured; run this on a CUDA machine."
        print(note)
        write_report(out, header, [], goals(None, None, None), note)
        print(f"report: {out / 'gpu-report.md'}")
        return 0
    header |= versions()
    print(", ".join(f"{k} {v}" for k, v in header.items()), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HPCAST_TEST_GPU": "1", "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT / "src"), os.environ.get("PYTHONPATH")) if p)}
    outcomes = [o for o in [install_wheels(env)] if o is not None]
    for step in steps(out):
        left = budget_s - (time.perf_counter() - started)
        if left < 10:
            outcomes.append(Outcome(step.name, " ".join(step.argv), None, 0.0, 0.0, False, "budget spent"))
            continue
        outcomes.append(run(step.name, step.argv, min(step.limit_s, left), env))
    goal_rows = goals(_load(out / "seed.json"), _load(out / "kernels.json"), _load(out / "fleet.json"))
    failed = [o.name for o in outcomes if not o.ok]
    note = (f"CUDA device {device}: {len(outcomes)} steps in {time.perf_counter() - started:.0f} s; "
            + (f"failed: {', '.join(failed)}." if failed else "every step passed."))
    write_report(out, header, outcomes, goal_rows, note)
    print(note)
    for g in goal_rows:
        print(f"{g['goal']}: {g['measured']} (target {g['target']}): {g['verdict']}")
    print(f"report: {out / 'gpu-report.md'}")
    return 1 if failed else 0


def scratch_cuda() -> None:
    """One epoch of the from-scratch LSTM on Numba CUDA against Numba on every CPU core, same losses."""
    sys.path.insert(0, str(BENCHMARKS))
    from hpcast.data import load_bundled
    from hpcast.models.scratch.train import make_task, train_scratch
    from scratch_lstm import WORKLOADS

    dataset, config = WORKLOADS["seed-like (S&P 500)"]
    task = make_task(load_bundled(dataset).series().to_numpy(), config)
    print(f"seed-like: {len(task.X_train)} windows of {config.window}, hidden {config.hidden[0]}, batch "
          f"{config.batch_size}, float64, one epoch after a warm-up epoch (compiles)")
    print(f"{'implementation':<14}{'seconds':>9}   epoch train loss")
    for name in ("numba-cuda", "numba"):
        train_scratch(name, task, config)
        history = train_scratch(name, task, config)[1][0]
        print(f"{name:<14}{history['seconds']:>9.3f}   {history['train_loss']:.12e}")


def seed_epochs(epochs: int, json_path: Path | None) -> None:
    """The seed workload for ``epochs`` epochs on the GPU through hpcast's trainer (levers off)."""
    import dataclasses

    import torch

    sys.path.insert(0, str(BENCHMARKS))
    from hpcast.data import load_bundled
    from hpcast.data.panel import Panel
    from hpcast.forecast.panel_windows import prepare_panel
    from hpcast.models.lstm import LSTMNet
    from hpcast.train.trainer import train
    from seed_workload import BATCH, LAYERS, seed_config

    config = seed_config(epochs, device="cuda")
    dataset = load_bundled("sp500")
    windows = prepare_panel(Panel.from_series(dataset.series(), dataset.freq), config, device="cuda")
    train_data, val_data = windows.batches(windows.starts("train")), windows.batches(windows.starts("val"))
    torch.manual_seed(0)
    model = LSTMNet(config.model, input_size=1, horizon=1, kernels=config.train.kernels).to("cuda")
    train(model, train_data, val_data, dataclasses.replace(config.train, epochs=1))  # warm-up: compiles
    torch.cuda.synchronize()
    started = time.perf_counter()
    result = train(model, train_data, val_data, config.train)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    per_epoch = sorted(r.seconds for r in result.history)[len(result.history) // 2]
    print(f"seed workload on {torch.cuda.get_device_name()}: {len(windows.starts('train'))} training windows, "
          f"LSTM {'-'.join(map(str, LAYERS))}, batch {BATCH}, kernels {config.train.kernels}: {epochs} epochs in "
          f"{seconds:.2f} s ({per_epoch:.3f} s/epoch median, validation included)")
    if json_path:
        json_path.write_text(json.dumps({"epochs": epochs, "seconds": seconds, "median_epoch_s": per_epoch,
                                         "kernels": config.train.kernels}, indent=1) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_out = Path(os.environ["OUT"]) if os.environ.get("OUT") else Path("gpu-report")
    parser.add_argument("--out", type=Path, default=default_out, help="report folder (default $OUT, else gpu-report/)")
    parser.add_argument("--budget", type=float, default=480, help="seconds for the whole check, installs included")
    parser.add_argument("--scratch-cuda", action="store_true", help="only: one scratch-LSTM epoch on Numba CUDA")
    parser.add_argument("--seed-epochs", type=int, help="only: this many seed-workload epochs on the GPU")
    parser.add_argument("--json", type=Path, help="with --seed-epochs: write the figures here")
    args = parser.parse_args()
    if args.scratch_cuda:
        scratch_cuda()
        return 0
    if args.seed_epochs:
        seed_epochs(args.seed_epochs, args.json)
        return 0
    return check(args.out, args.budget)


if __name__ == "__main__":
    raise SystemExit(main())
