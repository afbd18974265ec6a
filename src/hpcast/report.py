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

from hpcast.evaluate.metrics import HEADLINE, METRICS, Metric, shown_columns

__all__ = ["VAR_COLUMNS", "backtest_table", "calibration_verdict", "mase_scale_words", "regime_coverage_lines",
           "render_report", "var_lines", "var_rows", "verdict"]


def _number(value: Any, scale: float = 1.0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value * scale:.3f}" if abs(value * scale) < 100 else f"{value * scale:,.1f}"


def _networks(metrics: dict[str, Any]) -> list[str]:
    """The models in ``metrics`` that are not baselines (networks, or fitted models such as a champion); a
    baseline's adaptive-conformal twin (``garch+aci``) is a baseline too."""
    from hpcast.forecast.table import BASELINE_NAMES

    return [model for model in metrics if model.removesuffix("+aci") not in BASELINE_NAMES]


def backtest_table(metrics: dict[str, dict[str, Any]]) -> str:
    """Markdown table: one row per model, the networks first (bold), a column per metric of `METRICS` under
    its label ("—" where a model has no value): the point metrics always, the others per level where some
    model has them (`hpcast.evaluate.metrics.shown_columns`); the per-regime ones have their own lines."""
    columns = [column for family in shown_columns(metrics.values(), METRICS).values() for column in family
               if column.regime is None]
    header = "| model | " + " | ".join(column.label for column in columns) + " |"
    lines = [header, "|---" * (len(columns) + 1) + "|"]
    networks = _networks(metrics)
    for model, row in sorted(metrics.items(), key=lambda item: item[0] not in networks):
        cells = [_number(row.get(column.name), 100 if column.percent else 1) for column in columns]
        name = f"**{model}**" if model in networks else model
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def regime_coverage_lines(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """One line per model with per-regime columns (`Metric.per_regime`): each level's value in the low, mid
    and high volatility terciles, e.g. ``lstm: Cov 80 % 91.7 / 83.3 / 58.3``; none where no model has one."""
    columns = [column for family in shown_columns(metrics.values(), METRICS).values() for column in family
               if column.regime is not None]
    lines = []
    for model, row in metrics.items():
        groups: dict[str, list[str]] = {}
        for column in columns:
            heading = column.label.removesuffix(f" {column.regime} vol")
            value = row.get(column.name)
            cell = f"{100 * value:.1f}" if column.percent and _number(value) != "—" else _number(value)
            groups.setdefault(heading, []).append(cell)
        parts = [f"{heading} {' / '.join(cells)}" for heading, cells in groups.items() if set(cells) != {"—"}]
        if parts:
            lines.append(f"{model}: {'; '.join(parts)}")
    return lines


def verdict(metrics: dict[str, dict[str, Any]]) -> str:
    """Plain sentences: did each network beat naive, and the best baseline, on the `HEADLINE` metric (MASE)?"""
    networks = _networks(metrics)
    label = HEADLINE.label
    baselines = {m: row[HEADLINE.name] for m, row in metrics.items() if m not in networks}
    sentences = []
    for network in networks:
        value, name = metrics[network][HEADLINE.name], f"model {network}"
        parts = []
        if "naive" in baselines:
            word = "beat" if HEADLINE.better(value, baselines["naive"]) else "did not beat"
            parts.append(f"The {name} {word} the naive last-value forecast ({label} {value:.3f} vs "
                         f"{baselines['naive']:.3f})")
        best = HEADLINE.best(baselines) if baselines else None
        if best is not None:
            if HEADLINE.better(value, baselines[best]):
                parts.append(f"and was better than every baseline (best baseline: {best}, {label} "
                             f"{baselines[best]:.3f})")
            else:
                parts.append(f"; the best baseline on these folds was {best} ({label} {baselines[best]:.3f}), "
                             f"so prefer it over the {name} here")
        sentences.append(" ".join(parts).replace(" ;", ";") + ".")
    return " ".join(sentences)


def calibration_verdict(metrics: dict[str, dict[str, Any]]) -> str:
    """Which model's bands held closest to their levels on these folds (the mean distance of each level's
    coverage from the level, over the levels every banded model has), and whether each network should give
    way to it; with CRPS, which distribution scored best. Empty when fewer than two models give bands."""
    levels = sorted({int(key.removeprefix("coverage_")) for row in metrics.values() for key, value in row.items()
                     if key.startswith("coverage_") and key.removeprefix("coverage_").isdigit() and _given(value)})
    banded = {model: row for model, row in metrics.items()
              if levels and all(_given(row.get(f"coverage_{level}")) for level in levels)}
    if len(banded) < 2:
        return ""
    miss = {model: sum(abs(row[f"coverage_{level}"] - level / 100) for level in levels) / len(levels)
            for model, row in banded.items()}
    best = min(miss, key=miss.get)
    held = ", ".join(f"{level}% held {100 * banded[best][f'coverage_{level}']:.1f}%" for level in levels)
    parts = [f"Best calibrated on these folds: {best} ({held}; {100 * miss[best]:.1f} points from the levels "
             "on average)."]
    crps = {model: row["crps"] for model, row in banded.items() if _given(row.get("crps"))}
    if len(crps) > 1:
        parts.append(f"Best CRPS: {min(crps, key=crps.get)} ({min(crps.values()):.4g}).")
    for network in _networks(banded):
        if network != best:
            parts.append(f"For its bands and risk figures prefer {best} over the model {network} here "
                         f"({100 * miss[network]:.1f} points from the levels).")
    return " ".join(parts)


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _skipped_lines(metrics: dict[str, dict[str, Any]]) -> list[str]:
    """Which blanks in the table are metrics a model could not have: it gives no quantiles or samples. Only
    the metrics the table shows are named (a point-only run shows no distribution metric to explain)."""
    shown = shown_columns(metrics.values(), METRICS)
    by_needs: dict[str, list[str]] = {}  # what is missing -> the models missing it, so each need is said once
    for model, row in metrics.items():
        notes = [note for note in (row.get("skipped") or "").split("; ") if note.split(" (")[0] in shown]
        needs = sorted({note.split(" (needs ")[-1].rstrip(")") for note in notes})
        if needs:
            by_needs.setdefault(" or ".join(needs), []).append(model)
    if not by_needs:
        return []
    said = "; ".join(f"{', '.join(models)} give{'s' if len(models) == 1 else ''} no {needs}"
                     for needs, models in by_needs.items())
    return [f"Blank (—) where a model gives nothing the metric reads: {said}.", ""]


def mase_scale_words(season: int) -> str:
    """What MASE was divided by, in words, for a backtest with declared ``season`` (1: none)."""
    if season > 1:
        return f"the in-sample seasonal naive error (declared season m = {season})"
    return "the in-sample one-step naive error (m = 1: no season declared for this frequency)"


def _interval_lines(model_manifest: Path) -> list[str]:
    """Where the bands come from, and any warning that they rest on too few residuals."""
    if not model_manifest.is_file():
        return []
    manifest = json.loads(model_manifest.read_text())
    calibrations = [(entry["symbol"], entry["calibration"]) for entry in manifest.get("series", [])
                    if "windows" in entry.get("calibration", {})]
    if not calibrations and "windows" in manifest.get("calibration", {}):
        calibrations = [("", manifest["calibration"])]  # pooled over the series (spectro-cnn)
    if not calibrations:
        return []
    first = calibrations[0][1]
    if first.get("pooled_series"):  # scaled scores pooled over the panel: one calibration for every series
        return [f"Intervals are split-conformal on errors over the forecast's own spread, from the scaled residuals "
                f"of {first['windows']} calibration windows pooled over {first['pooled_series']} series that neither "
                "trained the model nor chose its epoch.", *[f"- note: {note}" for note in first.get("notes", [])], ""]
    several = len(calibrations) > 1
    windows = ", ".join(f"{symbol} {c['windows']}" if several else str(c["windows"]) for symbol, c in calibrations)
    return [f"Intervals are split-conformal, from the residuals of {windows} calibration windows "
            f"{'per series ' if several else ''}that neither trained the model nor chose its epoch.",
            *[f"- note: {f'{symbol}: ' if several else ''}{note}" for symbol, c in calibrations
              for note in c.get("notes", [])], ""]


def _series_cell(value: Any, metric: Metric) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1%}" if metric.percent else f"{value:.3f}"


def _per_series_lines(per_series: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """A table of the metrics with a `Metric.per_series` heading (MASE, direction) and the DM p-value against
    naive, per model and series (panels only)."""
    symbols = {symbol for rows in per_series.values() for symbol in rows}
    if len(symbols) < 2:
        return []
    shown = [metric for metric in METRICS.values() if metric.per_series is not None]
    headings = ["model", "series", *(metric.per_series for metric in shown), "DM p"]
    out = ["Per series, each beside its own naive forecast (DM: Diebold-Mariano test against naive, two-sided):",
           "", "| " + " | ".join(headings) + " |", "|---" * len(headings) + "|"]
    for model, rows in per_series.items():
        for symbol, row in rows.items():
            cells = [_series_cell(row.get(metric.name), metric) for metric in shown]
            p = row.get("dm_pvalue")
            out.append(f"| {model} | {symbol} | " + " | ".join(cells) + f" | {'—' if p is None else f'{p:.3f}'} |")
    return [*out, ""]


def var_rows(var: dict[str, dict[str, dict[str, Any]]]) -> list[list[str]]:
    """One row of cells per model, series and VaR level (the columns of `VAR_COLUMNS`)."""
    rows = []
    for model, by_symbol in var.items():
        for symbol, by_level in by_symbol.items():
            for level, test in by_level.items():
                windows = test["windows"]
                zones = ", ".join(f"{sum(w['zone'] == zone for w in windows)} {zone}"
                                  for zone in ("green", "yellow", "red") if any(w["zone"] == zone for w in windows))
                es = ("—" if test["mean_es"] is None else
                      f"{100 * test['mean_es']:.2f}% ({100 * test['mean_tail_return']:.2f}%)")
                rows.append([model, symbol, f"{float(level):.1%}", str(test["n"]),
                             f"{test['exceptions']} ({test['expected']:.1f})", f"{test['kupiec_p']:.3f}",
                             f"{test['independence_p']:.3f}", f"{test['coverage_p']:.3f}", test["zone"], zones, es])
    return rows


VAR_COLUMNS = ("model", "series", "VaR", "days", "exceptions (expected)", "Kupiec p", "independence p",
               "cond. coverage p", "zone", "per 250 days", "ES on those days (realised)")


def var_lines(var: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """The report's value-at-risk section: each model's one-step VaR backtested (`hpcast.evaluate.risk`)."""
    if not var:
        return []
    out = ["## Value at risk, one step ahead",
           "Exceptions are days whose log return fell below the model's VaR (the lower edge of its band); Kupiec "
           "tests their number, Christoffersen their independence, conditional coverage both; the Basel traffic "
           "light counts them per 250 days (green 0-4, yellow 5-9, red 10+ at 99%). On the exception days, the "
           "mean forecast expected shortfall stands beside the mean realised log return: an ES that is right on "
           "average matches it.", "",
           "| " + " | ".join(VAR_COLUMNS) + " |", "|---" * len(VAR_COLUMNS) + "|"]
    return [*out, *("| " + " | ".join(row) + " |" for row in var_rows(var)), ""]


def _origins(folds: list[str]) -> str:
    """The fold origins, all of them up to 12, else the first and last three."""
    return ", ".join(folds) if len(folds) <= 12 else f"{', '.join(folds[:3])}, …, {', '.join(folds[-3:])}"


def _refits(every: int) -> str:
    """How the models were refitted, in words."""
    if every <= 1:
        return "every model refitted on each fold's history only."
    return (f"every model refitted once every {every} origins, on the data dated on or before its refit origin "
            "only; the origins between forecast with the latest fit from their own history.")


def render_report(folder: Path, manifest: dict[str, Any], metrics: dict[str, Any]) -> str:
    data, config = manifest.get("data", {}), manifest.get("config", {})
    out = [f"# hpcast {manifest.get('command', 'run')}: {data.get('name', '?')}", ""]
    if data:
        out += ["## Data", *([f"- source: {data['source']}"] if "source" in data else []),
                *([f"- series: {', '.join(data['symbols'])}"] if "symbols" in data else []),
                *([f"- covariates: {', '.join(data['covariates'])}"] if data.get("covariates") else []),
                f"- column: `{data['column']}`, {data['rows']} points, "
                f"{data['start']} to {data['end']} (frequency {data['freq']})",
                f"- fingerprint: `{data['fingerprint'][:16]}…`", *[f"- note: {n}" for n in data.get("notes", [])], ""]
    if config:
        model, train = config["model"], config["train"]
        out += ["## Configuration", f"- target: `{config['target']}`, window {config['window']}, "
                f"horizon {config['horizon']}",
                f"- model `{model['kind']}`: " + ", ".join(f"{key} {value}" for key, value in model.items()
                                                         if key != "kind"),
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
        coverage = "; ".join(f"{model}: " + ", ".join(f"{float(level):.0%} interval: {share:.0%} inside"
                                                      for level, share in levels.items())
                             for model, levels in backtest["interval_coverage"].items())
        out += ["## Walk-forward backtest",
                f"{len(backtest['folds'])} folds of {backtest['horizon']} steps (origins "
                f"{_origins(backtest['folds'])}); {_refits(backtest.get('refit_every', 1))} "
                f"MASE is scaled by {mase_scale_words(backtest['season'])}.", "",
                backtest_table(backtest["metrics"]), "", *_skipped_lines(backtest["metrics"]),
                verdict(backtest["metrics"]), ""]
        if calibration := calibration_verdict(backtest["metrics"]):
            out += [calibration, ""]
        if coverage:
            out += [f"Empirical coverage of the conformal intervals: {coverage}.", ""]
        regimes = regime_coverage_lines(backtest["metrics"])
        if regimes:
            out += ["Coverage in the low / mid / high tercile of each series' trailing 21-day realised "
                    "volatility at the fold origins:", "", *[f"- {line}" for line in regimes], ""]
        out += _per_series_lines(backtest.get("per_series", {}))
        out += [f"![backtest]({p.name})" for p in sorted(folder.glob("backtest*.png"))] + [""]
        out += var_lines(backtest.get("var", {}))
        out += [f"![value at risk]({p.name})" for p in sorted(folder.glob("var*.png"))]
        out += [""] if backtest.get("var") else []
    if (folder / "forecast.csv").is_file():
        forecast = pd.read_csv(folder / "forecast.csv")
        shown = pd.concat([forecast.head(3), forecast.tail(2)]).drop_duplicates()
        out += ["## Forecast", f"{len(forecast)} steps from the last observation; full table in `forecast.csv`.",
                "", "```", shown.to_string(index=False, float_format=lambda v: f"{v:,.2f}"), "```", "",
                *_interval_lines(folder / "model" / "manifest.json"),
                *[f"![forecast]({p.name})" for p in sorted(folder.glob("forecast*.png"))], ""]
    out += ["## Files", *[f"- `{p.relative_to(folder)}`" for p in sorted(folder.rglob("*"))
                          if p.is_file() and not p.name.startswith(".") and p.parent.name != "checkpoint"
                          and p.name != "report.md"], "",
            "Prices are hard to forecast: trust a model only as far as its walk-forward backtest against the "
            "baselines supports it (`hpcast backtest`).", ""]
    return "\n".join(out)

