"""What a finished study leaves in its run folder: ``best.toml`` (for ``hpcast train --config``),
``trials.csv``, ``trials.png`` (value per trial, pruned ones marked, and the parameter importances) and
``report.md``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["importances", "toml_text", "trials_frame", "trials_plot"]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("nan" if value != value else "inf" if value > 0 else "-inf")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} to TOML")


def toml_text(data: dict[str, Any], prefix: str = "") -> str:
    """A nested dict of scalars and lists as TOML; ``None`` values are left out (TOML has no null: the
    setting's default, None, applies when read back)."""
    lines = [f"{key} = {_value(value)}" for key, value in data.items()
             if value is not None and not isinstance(value, dict)]
    for key, value in data.items():
        if isinstance(value, dict):
            name = f"{prefix}{key}"
            lines += ["", f"[{name}]", toml_text(value, f"{name}.").rstrip("\n")]
    return "\n".join(line for line in lines if line is not None) + "\n"


def trials_frame(study: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, epochs reported, seconds and the parameters."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds() \
            if trial.datetime_complete and trial.datetime_start else None
        rows.append({"number": trial.number, "state": trial.state.name.lower(), "value": trial.value,
                     "epochs": len(trial.intermediate_values), "seconds": seconds, **trial.params})
    return pd.DataFrame(rows)


def importances(study: Any) -> dict[str, float]:
    """Optuna's parameter importances (fANOVA); empty with fewer than two complete trials or no spread."""
    import optuna

    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return {}
    try:
        return optuna.importance.get_param_importances(study)
    except (RuntimeError, ValueError):  # e.g. every complete trial had the same parameters
        return {}


def trials_plot(frame: pd.DataFrame, weights: dict[str, float], path: Path, title: str,
                score: str = "validation loss") -> Path:
    """Value against trial number, the best so far, pruned trials at their last reported value (marked x),
    beside the parameter importances; the look of `hpcast.viz.plots`."""
    from matplotlib.figure import Figure  # no pyplot state: the caller's backend stays as it was

    fig = Figure(figsize=(12, 4.8), dpi=110)
    ax, bars = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    ax.set_title(title)
    ax.set_ylabel(f"best {score}")
    ax.set_xlabel("trial")
    ax.grid(alpha=0.3)
    done = frame[frame["state"] == "complete"].sort_values("number")
    ax.plot(done["number"], done["value"], "o", color="#d62728", label="complete")
    ax.plot(done["number"], done["value"].cummin(), "-", color="#7f7f7f", label="best so far")
    pruned = frame[frame["state"] == "pruned"]
    ax.plot(pruned["number"], pruned["value"], "x", color="#1f77b4", label="pruned (last reported)")
    ax.legend(loc="best")
    bars.set_title("parameter importance")
    bars.grid(alpha=0.3, axis="x")
    if weights:
        names = list(weights)[::-1]
        bars.barh(names, [weights[n] for n in names], color="#2ca02c")
    else:
        bars.text(0.5, 0.5, "needs two complete trials", ha="center", va="center", transform=bars.transAxes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    return path
