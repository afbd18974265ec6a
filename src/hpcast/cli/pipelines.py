"""``hpcast pipeline daily|retrain`` and ``hpcast schedule``: the store and the models, kept current."""

from __future__ import annotations

from typing import Any

import click

from hpcast._uris import redact
from hpcast.cli import cli
from hpcast.cli.options import console, run_config, train_options, user_errors
from hpcast.cli.store import run_update, store_option, update_options


@cli.group()
def pipeline() -> None:
    """Scheduled work: the daily store update and the monthly retrain (run by `hpcast schedule` or cron).

    \b
    Example:
        hpcast pipeline daily && hpcast pipeline retrain --assets sp500
    """


@pipeline.command("daily")
@update_options
@user_errors
def pipeline_daily(assets: str | None, source: str | None, until: str | None, allow_rejects: bool,
                   store_url: str | None) -> None:
    """Update every asset in the store; safe to re-run (a second run of the same day writes nothing).

    Exit code 0 when the store is current (whether or not rows were added), 1 when rows were rejected
    or a source failed (the other assets are still updated). Each run appends a JSON line to
    <data>/pipeline.log.

    \b
    Example:
        hpcast pipeline daily --until 2018-01-31
    """
    run_update(assets, source, until, allow_rejects, store_url)


@pipeline.command("retrain")
@click.option("--assets", metavar="A,B,..", help="Price assets to consider [default: every one in the store].")
@click.option("--force", is_flag=True, help="Train a challenger even when no drift is detected.")
@click.option("--test-size", type=int, help="Recent points the challenger and champion are compared on "
                                            "[default: 3 horizons].")
@click.option("--out", metavar="DIR", help="Folder for the challengers' runs [default: runs/<timestamp>-retrain].")
@train_options
@store_option
@user_errors
def pipeline_retrain(assets: str | None, force: bool, out: str | None, store_url: str | None, **kwargs: Any) -> None:
    """Per asset: drift check, train a challenger, compare with the champion and naive, promote if better.

    An asset served only by a global champion (a model over several symbols) retrains that global model,
    once, on the panel of all its symbols: a global challenger, compared on the same folds, MASE pooled.

    The champion's live MASE (on the data after its training end) is written on its version. Drift is a
    KS test of the returns after the champion's training end against its training span, or its live MASE
    above 1.5x its recorded backtest MASE. Challenger and champion are compared only on folds after both
    training ends (too few such points: the champion stays). Every decision is an MLflow run in
    `hpcast-pipeline` with the numbers and the reason; the champion alias moves only when the
    challenger's MASE is lower. Exit code 1 when an asset failed (the others are still retrained).

    \b
    Example:
        hpcast pipeline retrain --assets sp500 --epochs 20
    """
    from rich.table import Table

    from hpcast.jobs import new_run_folder
    from hpcast.pipelines import retrain
    from hpcast.registry import Registry
    from hpcast.store import FeatureStore

    config = run_config(kwargs)
    store, registry = FeatureStore(store_url), Registry()
    names = None if assets is None else [a.strip() for a in assets.split(",") if a.strip()]
    folder = new_run_folder("retrain", out)
    with console().status("retraining") as status:
        decisions = retrain(store, registry, names, config, folder, force=force,
                            progress=lambda name: status.update(f"retrain: {name}"))
    table = Table("asset", "drift", "decision", "challenger", "champion", "naive", "reason", box=None)
    for d in decisions:
        name = d.asset if d.symbols in ([], [d.asset]) else f"{d.asset} ({', '.join(d.symbols)})"
        table.add_row(name, d.drift.summary(), d.action,
                      *(f"{d.mase[k]:.3f}" if k in d.mase else "-" for k in ("challenger", "champion", "naive")),
                      d.reason)
    console().print(table)
    click.echo(f"runs: {folder}\nregistry: {redact(registry.uri)} (decisions in experiment hpcast-pipeline)")
    failed = [f"  {d.asset}: {d.reason}" for d in decisions if d.action == "failed"]
    if failed:  # exit 1 without taking back the run folder: the other assets' runs are in it
        click.echo(f"{len(failed)} asset(s) failed (the others were retrained):\n" + "\n".join(failed), err=True)
        click.get_current_context().exit(1)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print the jobs, their next run times and the cron lines; exit.")
@store_option
@user_errors
def schedule(dry_run: bool, store_url: str | None) -> None:
    """Run the daily update (Mon-Fri 18:30 New York) and the monthly retrain (1st, 06:00) in this process.

    Each job runs `hpcast pipeline ...` as a child process, so one failed run does not stop the schedule.

    \b
    Example:
        hpcast schedule --dry-run
    """
    from hpcast.pipelines.schedule import CRON, build_scheduler

    extra = ["--store", store_url] if store_url else []
    scheduler = build_scheduler(extra, blocking=not dry_run)
    if dry_run:
        from datetime import datetime

        now = datetime.now(scheduler.timezone)
        for job in scheduler.get_jobs():
            fire, times = now, []
            for _ in range(3):
                fire = job.trigger.get_next_fire_time(None, fire)
                times.append(fire.strftime("%a %Y-%m-%d %H:%M %Z"))
                fire = fire.replace(second=1)
            click.echo(f"{job.name:<26} next: {', '.join(times)}")
        click.echo(f"\nthe same with cron:\n{CRON}")
        return
    click.echo("scheduler running (Ctrl-C to stop); jobs: " + ", ".join(j.name for j in scheduler.get_jobs()))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("scheduler stopped")
