"""``hpcast tune``: a pruned Optuna search over one model's settings, honest about the folds it reports."""

from __future__ import annotations

import functools
import shlex
from typing import Any

import click

from hpcast._uris import redact
from hpcast.cli import cli
from hpcast.cli.options import data_options, data_request, run_config, train_options, user_errors
from hpcast.inputs.sources import option_flag

_TUNABLE = ("lstm", "gru")  # hpcast.tune.space.SPACES' rows (not imported here: it needs pandas; a test compares)


class _StudyProgress:
    """A rich bar over this run's trials, with the study's best value so far."""

    def __init__(self, total: int | None, existing: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.existing = existing
        self.bar = Progress(TextColumn("[bold]trials"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=Console(stderr=True))
        self.task = self.bar.add_task("trials", total=total, info="")

    def __call__(self, study: Any) -> None:
        finished = [t for t in study.get_trials(deepcopy=False) if t.state.is_finished()]
        values = [t.value for t in finished if t.state.name == "COMPLETE"]
        info = f"best {min(values):.4g}" if values else "no trial complete yet"
        self.bar.update(self.task, completed=max(0, len(finished) - self.existing), info=info)


@cli.command()
@data_options
@train_options
@click.option("--model", "kind", type=click.Choice(_TUNABLE), help="The model to tune [default: lstm].")
@click.option("--trials", type=click.IntRange(min=1), default=20, show_default=True,
              help="Trials this run adds to the study.")
@click.option("--timeout", type=float, metavar="S", help="Stop starting trials after S seconds.")
@click.option("--study", metavar="NAME", help="Study name; the same name and storage resume or join a study "
                                              "[default: <data name>-<model>].")
@click.option("--storage", metavar="URL", help="Optuna storage: sqlite:///path.db, postgresql://..., or a journal "
                                               "file (PATH.journal, journal://PATH) on a shared disk "
                                               "[default: sqlite:///$HPCAST_DATA/optuna.db].")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
              help="Trial processes on this machine (spawned, one thread each), all on the same study.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, metavar="K",
              help="Trials asked K at a time and trained together: same-shape LSTMs in one fused run on a GPU "
                   "(--fleet), one after another on a CPU. Larger K samples less adaptively.")
@click.option("--pruner", type=click.Choice(["median", "halving", "none"]), default="median", show_default=True,
              help="Stop bad trials early: below the median of earlier trials at the same epoch, successive "
                   "halving, or never.")
@click.option("--space", "space_path", metavar="TOML", help="Narrow the search space with a [space] table "
                                                            "(see hpcast.tune.space).")
@click.option("--mlflow/--no-mlflow", default=True, show_default=True,
              help="Log every finished trial to MLflow, experiment tune-<study>.")
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-tune].")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@user_errors
def tune(trials: int, timeout: float | None, study: str | None, storage: str | None, jobs: int, batch: int,
         pruner: str, space_path: str | None, mlflow: bool, out: str | None, quiet: bool, **kwargs: Any) -> None:
    """Search a model's settings with Optuna (TPE sampler, pruned epoch by epoch).

    Trials fit on the data before the folds `hpcast backtest` reports by default, each scored by its best
    validation loss on the last windows of that span; the best configuration is then backtested on the
    held-out folds beside naive (and, with --ensemble K, as a K-member seed ensemble; the trials are single
    models). The fixed training flags (--epochs, --seed, ...) are every trial's base. The covariate set is
    searched too (none, calendar, volume,calendar, ma_ratio:50,calendar: those the data can give; narrow it
    with [space] covariates = ["", "calendar"]), unless --covariates fixes it. The output head is searched
    when the [space] table names it (distribution = ["point", "student-t"]); trials are then ranked by their
    validation CRPS, the score every head shares, and not pruned.
    The same --study and --storage resume an interrupted study, and join one from several processes or
    machines. Writes best.toml (for `hpcast train --config`), trials.csv, trials.png and report.md.

    \b
    Example:
        hpcast tune --dataset air_passengers --trials 20 --epochs 30
        hpcast tune --dataset sp500 --model gru --trials 50 --timeout 600 --jobs 2 --storage runs/sp500.journal
        hpcast tune --dataset sp500 --trials 64 --batch 16 --device cuda
        hpcast tune --csv prices.csv --space space.toml --study mine --storage postgresql://user@db/optuna
    """
    from hpcast.errors import ConfigError
    from hpcast.jobs import new_run_folder
    from hpcast.tune import default_storage, load_space, open_storage, open_study, search_space, tune_job
    from hpcast.tune.spans import Spans
    from hpcast.tune.study import make_pruner

    fixed = kwargs["covariates"]  # given on the command line: the covariate set is not searched
    load, data_flags = _loader(kwargs)
    base = run_config(kwargs)
    spans = Spans(load, base)
    panel = spans.panel(fixed or "")
    for note in panel.notes:
        click.echo(f"{panel.name}: {note}", err=True)
    narrowed = load_space(space_path) if space_path else {}
    if fixed is not None and "covariates" in narrowed:
        raise ConfigError(f"space.covariates: --covariates ({fixed!r}) fixes the covariate set; leave one of them out")
    searched = None if fixed is not None else spans.searched(narrowed.pop("covariates", None))
    space = search_space(base.kind, panel.freq, narrowed, covariates=searched)
    name = study or f"{panel.name}-{base.kind}"
    url = storage or default_storage()
    existing = len(open_study(name, open_storage(url), make_pruner(pruner)).trials)
    folder = new_run_folder("tune", out)
    click.echo(f"study {name} in {redact(url)}: {existing} trials so far")
    if searched is None:
        click.echo(f"covariates: {fixed or 'none'}, fixed by --covariates (not searched)")
    else:
        click.echo(f"covariates: searched among {', '.join(c or 'none' for c in searched)}")

    def on_span(first: str, last: str, origin: str) -> None:
        click.echo(f"tuning on {first} .. {last}; held out: the backtest folds after {origin}")

    progress = None if quiet else _StudyProgress(trials, existing)
    folds = None
    if not quiet:
        from hpcast.train.progress import FoldProgress

        folds = FoldProgress()
    if progress is not None:
        progress.bar.start()
    try:
        result = tune_job(panel, base, space, folder, study=name, storage=url, trials=trials, timeout=timeout,
                          jobs=jobs, batch=batch, pruner=pruner, mlflow=mlflow, spans=spans, covariates=fixed or "",
                          data_flags=data_flags, on_span=on_span, on_progress=progress,
                          backtest_progress=_FoldsAfterTrials(progress, folds))
    finally:
        if progress is not None:
            progress.bar.stop()
    counts = result.counts
    total = counts["complete"] + counts["pruned"] + counts["failed"]
    click.echo(f"{total} trials: {counts['complete']} complete, {counts['pruned']} pruned (stopped early), "
               f"{counts['failed']} failed ({result.added} added by this run)")
    click.echo(f"best: trial {result.best_number}, {result.score} {result.best_value:.6g}, covariates "
               f"{result.covariates or 'none'}")
    mase = "  ".join(f"{model} {value:.3f}" for model, value in result.held_out.items())
    crps = "  ".join(f"{model} {value:.4g}" for model, value in result.held_out_crps.items())
    click.echo(f"held-out folds ({len(result.folds)}, from {result.folds[0]}): MASE {mase}; CRPS {crps}")
    if mlflow:
        click.echo(f"trials logged to MLflow experiment tune-{name}")
    click.echo(f"best config: {folder / 'best.toml'}\nreport: {folder / 'report.md'}")
    click.echo(f"train it: {result.train_command}")


def _load(sources: dict[str, Any], covariates: str) -> Any:
    """The panel of ``sources`` (`load_panel`'s data arguments) with ``covariates``; module level, so that it
    pickles into spawned trial processes."""
    from hpcast.inputs import load_panel

    return load_panel(**sources, covariates=covariates or ())


def _loader(kwargs: dict[str, Any]) -> tuple[Any, str]:
    """Pop `data_options`' flags from ``kwargs``: a loader of the panel by covariate set, and the flags (less
    --covariates) as the user would type them again."""
    sources = data_request(kwargs)
    sources.pop("covariates", None)
    typed = [(option_flag(key), value) for key, value in sources.items() if key != "store" and value is not False]
    text = " ".join(flag if value is True else f"{flag} {shlex.quote(str(value))}" for flag, value in typed)
    return functools.partial(_load, sources), text


class _FoldsAfterTrials:
    """The backtest's fold progress, started once the trials' bar has stopped."""

    def __init__(self, trials: _StudyProgress | None, folds: Any) -> None:
        self.trials, self.folds = trials, folds

    def start(self, total: int) -> None:
        if self.trials is not None:
            self.trials.bar.stop()
        if self.folds is not None:
            self.folds.start(total)

    def advance(self, fold: int) -> None:
        if self.folds is not None:
            self.folds.advance(fold)

    def finish(self) -> None:
        if self.folds is not None:
            self.folds.finish()
