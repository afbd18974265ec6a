"""One tuning run end to end: the span, the study, the trials, the run folder and the held-out report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcast.config import RunConfig, from_dict
from hpcast.data.panel import Panel
from hpcast.tune.objective import Objective, held_out_size, tuning_span
from hpcast.tune.outputs import importances, toml_text, trials_frame, trials_plot
from hpcast.tune.runner import StudyJob, count_states, optimize
from hpcast.tune.space import Param

__all__ = ["TuneResult", "tune_job"]


@dataclass(frozen=True)
class TuneResult:
    """What `tune_job` found: the study's trial counts, its best trial and the held-out comparison."""

    span: tuple[str, str]  # first and last date the trials saw
    first_origin: str  # the first held-out fold origin (after the span)
    counts: dict[str, int]
    added: int  # trials this run added to the study
    best_number: int
    best_value: float
    best_config: RunConfig
    held_out: dict[str, float]  # MASE per model on the held-out folds
    folds: list[str]


def tune_job(panel: Panel, base: RunConfig, space: dict[str, Param], folder: Path, *, study: str, storage: str,
             trials: int | None, timeout: float | None, jobs: int = 1, pruner: str = "median",
             mlflow: bool = True, on_span: Callable[[str, str, str], None] | None = None,
             on_progress: Callable[[Any], None] | None = None, backtest_progress: Any = None) -> TuneResult:
    """Tune ``base``'s model on the data before the default backtest folds, write the run folder, then
    backtest the best configuration beside naive on those held-out folds.

    Example:
        >>> result = tune_job(panel, RunConfig(), search_space("lstm", "MS"), Path("runs/t"), study="air",
        ...                   storage="sqlite:///hpcast-data/optuna.db", trials=8, timeout=None)  # doctest: +SKIP
    """
    from hpcast.evaluate.backtest import backtest, with_test_size
    from hpcast.tune.study import make_pruner, open_storage, open_study

    make_pruner(pruner)  # refuse a bad name before anything runs
    span, first_origin = tuning_span(panel, base)
    dates = (str(span.dates.min())[:10], str(span.dates.max())[:10], str(first_origin.date()))
    if on_span:
        on_span(*dates)
    existing = len(open_study(study, open_storage(storage), make_pruner(pruner)).trials)
    seed = None if jobs > 1 else base.train.seed + existing  # a resumed study does not repeat its first draws
    job = StudyJob(study, storage, pruner, Objective(span, base, space), seed=seed, mlflow=mlflow)
    result = optimize(job, trials, timeout, jobs, on_progress)
    counts = count_states(result)
    if counts["complete"] == 0:
        raise ValueError(f"study {study!r}: no trial completed ({counts['pruned']} pruned, {counts['failed']} "
                         "failed); widen the search space or give more --epochs")
    best = result.best_trial
    best_config = from_dict(RunConfig, best.user_attrs["config"])
    frame = trials_frame(result)
    weights = importances(result)
    (folder / "best.toml").write_text(toml_text(best.user_attrs["config"]))
    frame.to_csv(folder / "trials.csv", index=False)
    span_frame = span.to_long().rename(columns={span.columns[0]: "y"})
    span_frame.to_csv(folder / "span.csv", index=False)
    trials_plot(frame, weights, folder / "trials.png", f"study {study}: {len(frame)} trials")
    outcome = backtest(panel, config=with_test_size(best_config, held_out_size(panel, base)),
                       models=(best_config.kind, "naive"), progress=backtest_progress)
    held_out = {str(model): float(mase) for model, mase in outcome.metrics["mase"].items()}
    tuned = TuneResult(span=dates[:2], first_origin=dates[2], counts=counts, added=len(frame) - existing,
                       best_number=best.number, best_value=float(best.value), best_config=best_config,
                       held_out=held_out, folds=outcome.origins)
    _write_report(folder, study, tuned, weights, best.params)
    return tuned


def _write_report(folder: Path, study: str, result: TuneResult, weights: dict[str, float],
                  params: dict[str, Any]) -> None:
    kind = result.best_config.kind
    lines = [f"# Tuning study `{study}`", "",
             f"Trials fitted on {result.span[0]} .. {result.span[1]}; the held-out folds start after "
             f"{result.first_origin} and no trial saw them.", "",
             f"{sum(result.counts[k] for k in ('complete', 'pruned', 'failed'))} trials: "
             f"{result.counts['complete']} complete, {result.counts['pruned']} pruned (stopped early), "
             f"{result.counts['failed']} failed.", "",
             f"Best: trial {result.best_number}, validation loss {result.best_value:.6g}, parameters "
             f"`{json.dumps(params)}` (`best.toml`).", "",
             "| model | held-out MASE |", "|---|---|",
             *[f"| {model} | {mase:.3f} |" for model, mase in result.held_out.items()], "",
             f"Folds: {', '.join(result.folds)}.", ""]
    if weights:
        lines += ["| parameter | importance |", "|---|---|", *[f"| {k} | {v:.3f} |" for k, v in weights.items()], ""]
    lines += [f"Reproduce the best trial: `hpcast train --config {folder / 'best.toml'} --csv {folder / 'span.csv'}`"
              f" ({kind}, same seed).", ""]
    (folder / "report.md").write_text("\n".join(lines))
