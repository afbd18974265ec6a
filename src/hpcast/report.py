"""``report.md`` for a run folder, rendered from its manifest, metrics and files.

Honest by construction: the LSTM's backtest row always sits beside the baselines' rows from the same
folds, and the text says plainly whether it beat the naive forecast and the best baseline.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["backtest_table", "mase_scale_words", "render_report", "verdict"]

_METRIC_NAMES = {"mae": "MAE", "rmse": "RMSE", "mape": "MAPE %", "smape": "sMAPE %", "mase": "MASE",
                 "directional_accuracy": "Direction %"}


def _number(value: Any, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * scale:.3f}" if abs(value * scale) < 100 else f"{value * scale:,.1f}"


def backtest_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Markdown table: one row per model, the LSTM first, columns as in `_METRIC_NAMES`."""
    header = "| model | " + " | ".join(_METRIC_NAMES.values()) + " |"
    lines = [header, "|---" * (len(_METRIC_NAMES) + 1) + "|"]
    for model, row in sorted(metrics.items(), key=lambda item: item[0] != "lstm"):
        cells = [_number(row.get(key), 100 if key == "directional_accuracy" else 1) for key in _METRIC_NAMES]
        name = f"**{model}**" if model == "lstm" else model
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(metrics: dict[str, dict[str, Any]]) -> str:
    """One plain sentence: did the LSTM beat naive, and the best baseline, on MASE?"""
    if "lstm" not in metrics:
        return ""
    lstm = metrics["lstm"]["mase"]
    baselines = {m: row["mase"] for m, row in metrics.items() if m != "lstm"}
    parts = []
    if "naive" in baselines:
        word = "beat" if lstm < baselines["naive"] else "did not beat"
        parts.append(f"The LSTM {word} the naive last-value forecast (MASE {lstm:.3f} vs {baselines['naive']:.3f})")
    best = min(baselines, key=baselines.get) if baselines else None
    if best is not None:
        if lstm < baselines[best]:
            parts.append(f"and was better than every baseline (best baseline: {best}, MASE {baselines[best]:.3f})")
        else:
            parts.append(f"; the best model on these folds was {best} (MASE {baselines[best]:.3f}), "
                         "so prefer it over the LSTM here")
    return " ".join(parts).replace(" ;", ";") + "."


def mase_scale_words(season: int) -> str:
    """What MASE was divided by, in words, for a backtest with declared ``season`` (1: none)."""
    if season > 1:
        return f"the in-sample seasonal naive error (declared season m = {season})"
    return "the in-sample one-step naive error (m = 1: no season declared for this frequency)"


def _interval_lines(model_manifest: Path) -> list[str]:
    """Where the bands come from, and any warning that they rest on too few residuals."""
    if not model_manifest.is_file():
        return []
    calibration = json.loads(model_manifest.read_text()).get("calibration", {})
    if "windows" not in calibration:
        return []
    return [f"Intervals are split-conformal, from the residuals of {calibration['windows']} calibration windows "
            "that neither trained the model nor chose its epoch.",
            *[f"- note: {note}" for note in calibration.get("notes", [])], ""]


def render_report(folder: Path, manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    data, config = manifest.get("data", {}), manifest.get("config", {})
    out = [f"# hpcast {manifest.get('command', 'run')}: {data.get('name', '?')}", ""]
    if data:
        out += ["## Data", f"- source: {data['source']}", f"- column: `{data['column']}`, {data['rows']} points, "
                f"{data['start']} to {data['end']} (frequency {data['freq']})",
                f"- fingerprint: `{data['fingerprint'][:16]}…`", *[f"- note: {n}" for n in data.get("notes", [])], ""]
    if config:
        model, train = config["model"], config["train"]
        out += ["## Configuration", f"- target: `{config['target']}`, window {config['window']}, "
                f"horizon {config['horizon']}",
                f"- LSTM layers {model['layers']}, dropout {model['dropout']}, init `{model['init']}`",
                f"- Adam lr {train['lr']}, batch {train['batch_size']}, up to {train['epochs']} epochs "
                f"(patience {train['patience']}), loss `{train['loss']}`, seed {train['seed']}",
                f"- hpcast {manifest.get('hpcast_version')}, torch {manifest.get('torch_version')}, "
                f"{manifest.get('threads')} threads", ""]
    if (folder / "price.png").is_file():
        out += ["## Series", "![price](price.png)", ""]
    training = metrics.get("training")
    if training:
        out += ["## Training", f"- {training['epochs_run']} epochs, best epoch {training['best_epoch']} "
                f"(validation loss {training['best_val_loss']:.4g}); "
                f"{'stopped early' if training['stopped_early'] else 'ran all epochs'}",
                f"- {training['seconds_per_epoch']:.2f} s/epoch", "", "![loss curve](loss_curve.png)", ""]
    backtest = metrics.get("backtest")
    if backtest:
        coverage = ", ".join(f"{float(level):.0%} interval: {share:.0%} inside"
                             for level, share in backtest["interval_coverage"].items())
        out += ["## Walk-forward backtest",
                f"{len(backtest['folds'])} folds of {backtest['horizon']} steps (origins "
                f"{', '.join(backtest['folds'])}); every model refitted on each fold's history only. "
                f"MASE is scaled by {mase_scale_words(backtest['season'])}.", "",
                backtest_table(backtest["metrics"]), "", verdict(backtest["metrics"]), ""]
        if coverage:
            out += [f"Empirical coverage of the LSTM's conformal intervals: {coverage}.", ""]
        out += ["![backtest](backtest.png)", ""]
    if (folder / "forecast.csv").is_file():
        forecast = pd.read_csv(folder / "forecast.csv")
        shown = pd.concat([forecast.head(3), forecast.tail(2)]).drop_duplicates()
        out += ["## Forecast", f"{len(forecast)} steps from the last observation; full table in `forecast.csv`.",
                "", "```", shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"), "```", "",
                *_interval_lines(folder / "model" / "manifest.json"), "![forecast](forecast.png)", ""]
    out += ["## Files", *[f"- `{p.relative_to(folder)}`" for p in sorted(folder.rglob("*"))
                          if p.is_file() and not p.name.startswith(".") and p.parent.name != "checkpoint"
                          and p.name != "report.md"], "",
            "Prices are hard to forecast: trust a model only as far as its walk-forward backtest against the "
            "baselines supports it (`hpcast backtest`).", ""]
    return "\n".join(out)

