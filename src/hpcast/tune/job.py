"""One tuning run end to end: the span, the study, the trials, the run folder and the held-out report."""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcast.config import RunConfig, from_dict
from hpcast.data.panel import Panel
from hpcast.tune.objective import Objective, tuning_span
from hpcast.tune.outputs import importances, toml_text, trials_frame, trials_plot
from hpcast.tune.runner import StudyJob, count_states, optimize
from hpcast.tune.space import Param
from hpcast.tune.spans import Spans

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
    held_out: dict[str, float]  # MASE per model on the held-out folds (``<kind>-ensemble-K`` with --ensemble K)
    folds: list[str]
    covariates: str = ""  # the best trial's covariate set (or the fixed one), as --covariates writes it
    searched: tuple[str, ...] | None = None  # the covariate sets searched; None: fixed, not searched
    train_command: str = ""  # `hpcast train` with best.toml on the whole data and the best covariate set
    score: str = "validation loss"  # what ranked the trials: "validation CRPS" where the head was searched
    held_out_crps: dict[str, float] = dataclasses.field(default_factory=dict)  # CRPS per model, the same folds


def tune_job(panel: Panel, base: RunConfig, space: dict[str, Param], folder: Path, *, study: str, storage: str,
             trials: int | None, timeout: float | None, jobs: int = 1, batch: int = 1, pruner: str = "median",
             mlflow: bool = True, spans: Spans | None = None, covariates: str = "", data_flags: str = "",
             on_span: Callable[[str, str, str], None] | None = None,
             on_progress: Callable[[Any], None] | None = None, backtest_progress: Any = None) -> TuneResult:
    """Tune ``base``'s model on the data before the default backtest folds, write the run folder, then
    backtest the best configuration beside naive on those held-out folds (and, with ``base.train.ensemble``
    K > 1, its K-member seed ensemble too; the trials are single models). ``batch`` trials are asked at a
    time and trained together (fused on a GPU: `hpcast.tune.objective.Objective.run_batch`).

    ``panel`` was loaded with the covariate set ``covariates``; a ``covariates`` parameter in ``space``
    searches the sets instead, each trial fitting on ``spans.span(<its set>)``. ``data_flags`` are the flags
    that load the data without covariates (``--dataset sp500``), for the train command in the report.

    Example:
        >>> result = tune_job(panel, RunConfig(), search_space("lstm", "MS"), Path("runs/t"), study="air",
        ...                   storage="sqlite:///hpcast-data/optuna.db", trials=8, timeout=None)  # doctest: +SKIP
    """
    from hpcast.evaluate.walkforward import tested_dates, with_test_size
    from hpcast.forecast.table import estimator_for
    from hpcast.tune.study import make_pruner, open_storage, open_study

    make_pruner(pruner)  # refuse a bad name before anything runs
    ensemble = base.train.ensemble
    estimator_for(base.kind, ensemble)  # a model that cannot ensemble fails before the trials
    if "covariates" in space and spans is None:
        raise ValueError("space.covariates: searching the covariate set needs spans (a loader per covariate set)")
    base = dataclasses.replace(base, train=dataclasses.replace(base.train, ensemble=1))  # trials: single models
    span, first_origin = tuning_span(panel, base)
    dates = (str(span.dates.min())[:10], str(span.dates.max())[:10], str(first_origin.date()))
    if on_span:
        on_span(*dates)
    existing = len(open_study(study, open_storage(storage), make_pruner(pruner)).trials)
    seed = None if jobs > 1 else base.train.seed + existing  # a resumed study does not repeat its first draws
    objective = Objective(span, base, space, spans)
    job = StudyJob(study, storage, pruner, objective, seed=seed, mlflow=mlflow,
                   batch=batch)
    result = optimize(job, trials, timeout, jobs, on_progress)
    counts = count_states(result)
    if counts["complete"] == 0:
        raise ValueError(f"study {study!r}: no trial completed ({counts['pruned']} pruned, {counts['failed']} "
                         "failed); widen the search space or give more --epochs")
    best = result.best_trial
    best_config = from_dict(RunConfig, best.user_attrs["config"])
    searched = space["covariates"].choices if "covariates" in space else None
    chosen = str(best.params.get("covariates", covariates))
    if searched is not None:
        assert spans is not None
        panel, span = spans.panel(chosen), spans.span(chosen)
    frame = trials_frame(result)
    weights = importances(result)
    (folder / "best.toml").write_text(toml_text(best.user_attrs["config"]))
    frame.to_csv(folder / "trials.csv", index=False)
    reproduce = _write_span(span, chosen, folder / "span.csv")
    trials_plot(frame, weights, folder / "trials.png", f"study {study}: {len(frame)} trials", objective.score)
    tested = with_test_size(best_config, tested_dates(base, panel.freq))
    held_out, held_out_crps, origins = _held_out(panel, tested, ensemble, backtest_progress)
    command = f"hpcast train --config {shlex.quote(str(folder / 'best.toml'))} {data_flags}".rstrip()
    tuned = TuneResult(span=dates[:2], first_origin=dates[2], counts=counts, added=len(frame) - existing,
                       best_number=best.number, best_value=float(best.value), best_config=best_config,
                       held_out=held_out, folds=origins, covariates=chosen, searched=searched,
                       train_command=command + (f" --covariates {shlex.quote(chosen)}" if chosen else ""),
                       score=objective.score,
                       held_out_crps=held_out_crps)
    _write_report(folder, study, tuned, weights, best.params, reproduce, ensemble)
    return tuned


def _held_out(panel: Panel, config: RunConfig, ensemble: int,
              progress: Any) -> tuple[dict[str, float], dict[str, float], list[str]]:
    """MASE and CRPS on the held-out folds of ``config``'s model and naive, and with ``ensemble`` > 1 of its
    seed ensemble (a second backtest on the same folds), in that order: single, ensemble, naive; and the folds."""
    from hpcast.evaluate.walkforward import backtest

    outcome = backtest(panel, config=config, models=(config.kind, "naive"), progress=progress)
    scores = [{str(model): float(value) for model, value in outcome.metrics[name].items()} for name in ("mase", "crps")]
    if ensemble <= 1:
        return scores[0], scores[1], outcome.origins
    members = dataclasses.replace(config, train=dataclasses.replace(config.train, ensemble=ensemble))
    joint = backtest(panel, config=members, models=(config.kind,), progress=progress).metrics
    name = f"{config.kind}-ensemble-{ensemble}"
    mase, crps = ({config.kind: score.pop(config.kind), name: float(joint[metric][config.kind]), **score}
                  for score, metric in zip(scores, ("mase", "crps"), strict=True))
    return mase, crps, outcome.origins


def _write_span(span: Panel, covariates: str, path: Path) -> str:
    """The span as a long CSV file, and the `hpcast train` flags that read it back as the trial saw it: each
    computed covariate column renamed ``span_<name>`` (so that it is read as a column, not recomputed), the
    calendar features recomputed from the dates."""
    from hpcast.features.covariates import parse_covariates

    renamed = {column: "span_" + column.replace(":", "_") for column in span.columns[1:]}
    frame = span.to_long().rename(columns={span.columns[0]: "y", **renamed})
    frame.to_csv(path, index=False)
    names = [*renamed.values(), *(["calendar"] if any(c.known_future for c in parse_covariates(covariates)) else [])]
    return f"--csv {shlex.quote(str(path))}" + (f" --covariates {','.join(names)}" if names else "")


def _write_report(folder: Path, study: str, result: TuneResult, weights: dict[str, float],
                  params: dict[str, Any], reproduce: str, ensemble: int) -> None:
    kind = result.best_config.kind
    chosen = f"`{result.covariates}`" if result.covariates else "none"
    if result.searched is None:
        covariates = f"Covariates: {chosen}, fixed by --covariates (not searched)."
    else:
        among = ", ".join(f"`{c}`" if c else "none" for c in result.searched)
        covariates = f"Covariates: best set {chosen}, searched among {among}."
    members = (f" The `{kind}-ensemble-{ensemble}` row is the best configuration as a seed ensemble of {ensemble} "
               f"(seeds {result.best_config.train.seed} .. {result.best_config.train.seed + ensemble - 1}; "
               f"add `--ensemble {ensemble}` to train it); the trials were single models." if ensemble > 1 else "")
    lines = [f"# Tuning study `{study}`", "",
             f"Trials fitted on {result.span[0]} .. {result.span[1]}; the held-out folds start after "
             f"{result.first_origin} and no trial saw them.", "",
             f"{sum(result.counts[k] for k in ('complete', 'pruned', 'failed'))} trials: "
             f"{result.counts['complete']} complete, {result.counts['pruned']} pruned (stopped early), "
             f"{result.counts['failed']} failed.", "",
             f"Best: trial {result.best_number}, {result.score} {result.best_value:.6g}, parameters "
             f"`{json.dumps(params)}` (`best.toml`).", "", covariates, "",
             "| model | held-out MASE | held-out CRPS |", "|---|---|---|",
             *[f"| {model} | {mase:.3f} | {result.held_out_crps.get(model, float('nan')):.4g} |"
               for model, mase in result.held_out.items()], "",
             f"Folds: {', '.join(result.folds)}.{members}", ""]
    if weights:
        lines += ["| parameter | importance |", "|---|---|", *[f"| {k} | {v:.3f} |" for k, v in weights.items()], ""]
    lines += [f"Train the best configuration on the whole data (best.toml holds no covariates: they are data "
              f"flags): `{result.train_command}`", "",
              f"Reproduce the best trial: `hpcast train --config {folder / 'best.toml'} {reproduce}` ({kind}, same "
              "seed).", ""]
    (folder / "report.md").write_text("\n".join(lines))
