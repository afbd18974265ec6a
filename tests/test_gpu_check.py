"""`benchmarks/gpu_check.py` (what `make gpu-check` runs) and `benchmarks/fleet.py --quick`, on this machine.

Without a CUDA GPU the check must say so, write a report that says so and exit 0; the goal verdicts are
read off the benchmarks' JSON, checked here on hand-written figures on both sides of each threshold.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", BENCHMARKS / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}


@needs_no_gpu
def test_without_a_gpu_it_says_so_writes_the_report_and_exits_0(tmp_path):
    done = subprocess.run([sys.executable, str(BENCHMARKS / "gpu_check.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    assert "No CUDA GPU here" in done.stdout
    report = json.loads((tmp_path / "gpu-report.json").read_text())
    assert report["cuda"] is False and report["steps"] == []
    assert [g["verdict"] for g in report["goals"]] == ["not measured"] * 4
    assert "No CUDA GPU here" in (tmp_path / "gpu-report.md").read_text()


def _figures(seed_s: float, fb_speedups: list[float], k64_speedup: float, shares: tuple[float, float]):
    seed = {"seconds": seed_s}
    kernels = {"lstm": [{"B": 32, "T": 100, "H": h, "fb_speedup": s} for h, s in zip((50, 120), fb_speedups,
                                                                                     strict=True)]
               + [{"B": 1024, "T": 100, "H": 128, "fb_speedup": 0.1}],  # not a goal shape: ignored
               "memory": [{"kernel": k, "elements": 10**8, "share_of_copy": s, "gb_per_s": 4000 * s}
                          for k, s in zip(("scale triton", "mse triton"), shares, strict=True)]
               + [{"kernel": "mse triton", "elements": 10**6, "share_of_copy": 0.1, "gb_per_s": 1.0}]}
    fleet = {"rows": [{"shape": "hidden 50", "K": 64, "window": 100, "batch": 32, "speedup": k64_speedup},
                      {"shape": "hidden 50", "K": 16, "window": 100, "batch": 32, "speedup": 1.0},
                      {"shape": "default 64", "K": 64, "window": 60, "batch": 32, "speedup": 1.0}]}
    return seed, kernels, fleet


def test_goal_verdicts_follow_the_thresholds():
    goals = _gpu_check().goals
    met = goals(*_figures(14.9, [1.6, 1.5], 20.0, (0.8, 0.93)))
    assert [g["verdict"] for g in met] == ["met"] * 4
    assert met[1]["measured"] == "H 50: 1.60x, H 120: 1.50x"
    assert met[3]["measured"] == "scale triton: 80% (3200 GB/s), mse triton: 93% (3720 GB/s)"
    missed = goals(*_figures(15.1, [2.0, 1.49], 19.9, (0.95, 0.79)))
    assert [g["verdict"] for g in missed] == ["NOT met"] * 4
    assert [g["verdict"] for g in goals(None, {"lstm": [], "memory": []}, None)] == ["not measured"] * 4


def test_a_step_over_its_limit_is_killed_and_recorded(tmp_path):
    run = _gpu_check().run
    outcome = run("sleeper", [sys.executable, "-c", "print('started', flush=True); import time; time.sleep(60)"], 2,
                  dict(os.environ))
    assert outcome.timed_out and not outcome.ok and outcome.seconds < 30
    assert "started" in outcome.tail
    failed = run("fails", [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], 30, dict(os.environ))
    assert (failed.returncode, failed.timed_out, failed.tail.strip()) == (3, False, "boom")


def test_fleet_quick_on_the_cpu_prints_one_row_per_shape_and_k(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("the CPU --quick settings")
    out = tmp_path / "fleet.json"
    done = subprocess.run([sys.executable, str(BENCHMARKS / "fleet.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["shape"], r["K"]) for r in rows] == [(s, k) for s in ("seed 50-60-80-120", "hidden 50", "hidden 120",
                                                                     "default 64") for k in (1, 2)]
    assert all(r["sequential_s"] > 0 and "fused_s" not in r for r in rows)
    table = [line.split() for line in done.stdout.splitlines() if line.startswith(("seed ", "hidden ", "default "))]
    assert [line[2] for line in table] == ["1", "2"] * 4
    assert "the sequential path only" in done.stdout
