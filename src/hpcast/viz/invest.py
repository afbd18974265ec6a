"""Charts of the investor's answer, from its JSON form: the portfolio fan and the calibration figure.

They use `matplotlib.figure.Figure` directly (no pyplot state), so web requests can draw in parallel.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["portfolio_fan", "reliability_figure"]


def portfolio_fan(answer: dict[str, Any]) -> Any:
    """Real value bands (5-95%, 25-75%), real and nominal medians, and the amount invested, over the horizon."""
    from matplotlib.figure import Figure

    dates = pd.to_datetime(answer["fan"]["dates"])
    real, nominal = answer["fan"]["real"], answer["fan"]["nominal"]
    fig = Figure(figsize=(8, 4), dpi=100)
    ax = fig.subplots()
    ax.fill_between(dates, real["p5"], real["p95"], color="tab:blue", alpha=0.18, label="real, 5-95%")
    ax.fill_between(dates, real["p25"], real["p75"], color="tab:blue", alpha=0.32, label="real, 25-75%")
    ax.plot(dates, real["median"], color="tab:blue", linewidth=2, label="real, median")
    ax.plot(dates, nominal["median"], color="tab:orange", linestyle="--", label="nominal, median")
    ax.axhline(answer["amount"], color="grey", linewidth=1, label="amount invested")
    ax.set_ylabel(f"value ({answer['as_of']} money)")
    ax.set_title(f"{answer['horizon']['months']} months from {answer['as_of']}: real value after projected inflation")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


_REGIME_COLOURS = {"low": "tab:green", "mid": "tab:orange", "high": "tab:red"}


def reliability_figure(result: dict[str, Any], path: Path) -> Path:
    """Promised vs realised band coverage, overall and per volatility regime of the as-of date (left; the
    stress windows as crosses at the 50/80/90% bands), and realised returns against the 90% band (right), as PNG.
    A result without regimes (an older calibration.json) draws the overall curve only."""
    from matplotlib.figure import Figure

    levels = [float(level) for level in result["coverage"]]
    goal = result["goal"]
    fig = Figure(figsize=(12, 4.6), dpi=110)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.5]})
    left.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
    left.plot(levels, list(result["coverage"].values()), marker="o", color="tab:blue", linewidth=2,
              label=f"all {len(result['dates'])} as-of dates")
    for name, row in (result.get("regimes") or {}).items():
        if row["dates"]:
            shown = {float(k): v for k, v in row["coverage"].items()}
            left.plot(list(shown), list(shown.values()), marker="s", color=_REGIME_COLOURS.get(name, "black"),
                      label=f"{name} volatility ({row['dates']} dates)")
    for k, (name, row) in enumerate((result.get("stress") or {}).items()):
        shown = {float(level): v for level, v in row["coverage"].items()}
        left.scatter(list(shown), list(shown.values()), marker="x", s=60, zorder=3, color=f"C{k + 4}",
                     label=f"{name} ({row['dates']} dates)")
    left.plot([0.9, 0.9], goal, color="tab:green", linewidth=6, alpha=0.4, label="goal for the 90% band")
    left.set(xlabel="central band promised", ylabel="share of realised outcomes inside", xlim=(0, 1), ylim=(0, 1),
             title="Reliability by regime of the as-of date")
    left.legend(loc="upper left", fontsize=7)
    dates = pd.to_datetime(result["dates"])
    p5, p95 = np.array(result["p5"]) * 100, np.array(result["p95"]) * 100
    realised = np.array(result["realised"]) * 100
    right.fill_between(dates, p5, p95, alpha=0.3, label="predicted 90% band")
    right.plot(dates, np.array(result["median"]) * 100, linewidth=1, label="predicted median")
    outside = (realised < p5) | (realised > p95)
    right.scatter(dates, realised, s=8, c=np.where(outside, "tab:red", "black"), label="realised (red: outside)",
                  zorder=3)
    noise = result.get("noise", "bootstrap")
    right.set(ylabel=f"real return over {result['months']} months (%)",
              title=f"{result['inside_90']:.0%} inside the 90% band ({noise} noise)")
    right.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
