"""``hpcast store backfill|update|show|validate``: the feature store from the command line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from hpcast._uris import redact
from hpcast.cli import cli
from hpcast.cli.options import console, user_errors


def store_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--store", "store_url", metavar="URL", envvar="HPCAST_STORE", show_envvar=True,
                        help="Store location: a folder or s3://bucket/prefix [default: ./hpcast-data/store].")(command)


def _assets(text: str | None) -> list[str] | None:
    return None if text is None else [a.strip() for a in text.split(",") if a.strip()]


def report_upserts(reports: list[Any], allow_rejects: bool) -> None:
    """Print one line per asset and the rejected rows; exit 1 on rejects unless they are allowed."""
    from rich.table import Table

    table = Table("asset", "from", "received", "written", "unchanged", "rejected", "derived rows", box=None)
    rejected = []
    for report in reports:
        table.add_row(report.group, report.source, str(report.received), str(report.written), str(report.unchanged),
                      str(len(report.rejected)), str(sum(report.derived.values())))
        rejected += [f"  {r.symbol} {r.date}: {r.reason}" for r in report.rejected.itertuples()]
    out = console()
    out.print(table)
    written = sum(r.written for r in reports)
    failed = [f"  {r.group}: {r.error}" for r in reports if r.error]
    click.echo(f"{written} rows written" if written else "no change: the store already held every row")
    revised = [f"  {r.group}: {r.revision}" for r in reports if r.revision]
    if revised:
        click.echo(f"{len(revised)} history revision(s) (the source re-adjusted the whole history):\n"
                   + "\n".join(revised))
    if failed:
        click.echo(f"{len(failed)} asset(s) could not be read (the others were updated):\n" + "\n".join(failed))
    if rejected:
        click.echo(f"{len(rejected)} rows rejected (kept in the quarantine, see `hpcast store show --quarantine`):")
        click.echo("\n".join(rejected[:20]) + (f"\n  ... and {len(rejected) - 20} more" if len(rejected) > 20 else ""))
        if not allow_rejects:
            raise click.ClickException(f"{len(rejected)} rows rejected (pass --allow-rejects to accept that)")
    if failed:
        raise click.ClickException(f"{len(failed)} asset(s) could not be read")


@cli.group()
def store() -> None:
    """The feature store: prices and macro series, versioned, with as-of reads.

    Parquet files under --store (a folder, or s3://bucket/prefix with credentials from the environment),
    queried with DuckDB. Writes are atomic and idempotent; bad rows go to a quarantine with the reason.

    \b
    Example:
        hpcast store backfill && hpcast store show sp500
    """


@store.command("backfill")
@click.option("--assets", default="sp500,nasdaq,gold,bitcoin,cpi,core_cpi,tbill,treasury_3m", show_default=True,
              metavar="A,B,..", help="Assets to load (see `hpcast store show --assets`).")
@click.option("--source", type=click.Choice(["bundled", "yahoo"]), default="bundled", show_default=True,
              help="Bundled files (offline) or Yahoo Finance (online; CPI and rates stay bundled).")
@click.option("--start", metavar="DATE", help="First date to load [default: the whole history].")
@click.option("--end", metavar="DATE", help="Last date to load, inclusive [default: the latest].")
@click.option("--allow-rejects", is_flag=True, help="Exit 0 even if rows were rejected.")
@store_option
@user_errors
def store_backfill(assets: str, source: str, start: str | None, end: str | None, allow_rejects: bool,
                   store_url: str | None) -> None:
    """Register assets and load their history into the store (re-running it writes nothing new).

    \b
    Example:
        hpcast store backfill --assets sp500,gold,cpi --end 2017-12-29
    """
    from hpcast.store import FeatureStore
    from hpcast.store.ingest import backfill

    feature_store = FeatureStore(store_url)
    with console().status("backfilling") as status:
        reports = backfill(feature_store, _assets(assets) or [], source=source, start=start, end=end,
                           progress=lambda name: status.update(f"backfilling {name}"))
    click.echo(f"store: {redact(feature_store.url)}")
    report_upserts(reports, allow_rejects)


def update_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The flags `store update` and `pipeline daily` share (they run the same update)."""
    options = [
        click.option("--assets", metavar="A,B,..", help="Assets to update [default: every asset in the store]."),
        click.option("--source", type=click.Choice(["bundled", "yahoo"]),
                     help="Where new rows come from [default: each asset's backfill source]."),
        click.option("--until", metavar="DATE",
                     help="Last date to take [default: today]; replays history on bundled data."),
        click.option("--allow-rejects", is_flag=True, help="Exit 0 even if rows were rejected."),
        store_option,
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def run_update(assets: str | None, source: str | None, until: str | None, allow_rejects: bool,
               store_url: str | None) -> None:
    """The daily increment for every (or the given) asset, logged to <data>/pipeline.log and reported."""
    from hpcast.pipelines import daily
    from hpcast.registry import data_dir
    from hpcast.store import FeatureStore

    feature_store = FeatureStore(store_url)
    with console().status("updating") as status:
        reports = daily(feature_store, _assets(assets), source=source, until=until,
                        log=data_dir() / "pipeline.log", progress=lambda name: status.update(f"updating {name}"))
    click.echo(f"store: {redact(feature_store.url)}")
    report_upserts(reports, allow_rejects)


@store.command("update")
@update_options
@user_errors
def store_update(assets: str | None, source: str | None, until: str | None, allow_rejects: bool,
                 store_url: str | None) -> None:
    """The daily increment: rows after each asset's last stored date (the last week is re-read for revisions).

    The same work as `hpcast pipeline daily`. Exit code 1 when rows were rejected or a source failed.

    \b
    Example:
        hpcast store update --until 2018-01-05
    """
    run_update(assets, source, until, allow_rejects, store_url)


@store.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--group", type=click.Choice(["prices", "macro"]), default="prices", show_default=True,
              help="Feature group the rows belong to.")
@click.option("--register", "freq", metavar="FREQ",
              help="Register the file's new symbols first, with this frequency (B, D, MS, QS, ...); "
                   "without it they are rejected.")
@click.option("--date-format", metavar="FMT",
              help="How the file's dates are written: a strptime format (%d/%m/%Y, %m/%d/%Y %H:%M%z) or dayfirst / "
                   "monthfirst for a/b/yyyy dates [default: ISO as written; a/b/yyyy in the order the column "
                   "proves, else every row is rejected].")
@click.option("--allow-rejects", is_flag=True, help="Exit 0 even if rows were rejected.")
@store_option
@user_errors
def store_import(path: str, group: str, freq: str | None, date_format: str | None, allow_rejects: bool,
                 store_url: str | None) -> None:
    """Upsert rows from a CSV (columns symbol, date and the group's columns), checked like every write.

    Cells are read as text and checked by the store: NaN or non-positive prices, high < low, negative
    volume, duplicate keys, future dates, unknown symbols and non-numbers are rejected with the reason.
    Dates follow the rules of --csv files: never guessed (01/02/2000 needs a date such as 13/02/2000 in the
    column, or --date-format), a UTC offset dropped (the exchange's local date is kept).

    \b
    Example:
        hpcast store import my-prices.csv --register B
        hpcast store import eu-prices.csv --date-format %d/%m/%Y
    """
    import pandas as pd

    from hpcast.data.dates import check_date_format
    from hpcast.store import FeatureStore

    check_date_format(date_format)  # before anything is registered
    rows = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    feature_store = FeatureStore(store_url)
    if freq and "symbol" in rows:
        symbols = sorted(set(rows["symbol"].dropna()) - set(feature_store.symbols()["symbol"]))
        feature_store.register(pd.DataFrame({"symbol": symbols, "group": group, "description": f"imported from {path}",
                                             "source": f"csv {path}", "freq": freq}))
    report = feature_store.upsert(group, rows, date_format=date_format)
    report.source = path
    report_upserts([report], allow_rejects)


@store.command("show")
@click.argument("symbol", required=False)
@click.option("--group", default=None, help="Feature group to read [default: the symbol's own].")
@click.option("--start", metavar="DATE", help="First date.")
@click.option("--end", metavar="DATE", help="Last date, inclusive.")
@click.option("--as-of", metavar="TIME", help="Show what was known then (UTC, e.g. 2026-01-05T22:00).")
@click.option("--rows", type=int, default=10, show_default=True, help="Rows to print (the latest).")
@click.option("--quarantine", is_flag=True, help="Show the rejected rows and their reasons instead.")
@click.option("--assets", "list_assets", is_flag=True, help="List the assets backfill knows how to load.")
@store_option
@user_errors
def store_show(symbol: str | None, group: str | None, start: str | None, end: str | None, as_of: str | None,
               rows: int, quarantine: bool, list_assets: bool, store_url: str | None) -> None:
    """Without SYMBOL: the groups (rows, dates, commits) and registered symbols. With SYMBOL: its rows.

    \b
    Example:
        hpcast store show sp500 --group moving_averages --as-of 2026-01-05T22:00
    """
    import pandas as pd

    from hpcast.store import FeatureStore
    from hpcast.store.ingest import ASSETS

    with pd.option_context("display.width", 160, "display.max_columns", 20):
        if list_assets:
            for name, asset in ASSETS.items():
                click.echo(f"{name:<12} {asset.group:<7} {asset.ticker or '-':<8} {asset.description}")
            return
        feature_store = FeatureStore(store_url)
        click.echo(f"store: {redact(feature_store.url)}")
        if quarantine:
            frame = feature_store.quarantine()
            click.echo(f"{len(frame)} rejected rows" + (":" if len(frame) else ""))
            if len(frame):
                click.echo(frame[["ingested_at", "target_group", "symbol", "date", "reason"]].tail(rows)
                           .to_string(index=False))
            return
        if symbol is None:
            click.echo(feature_store.status().to_string(index=False))
            click.echo("")
            click.echo(feature_store.symbols().drop(columns="ingested_at").to_string(index=False))
            return
        registered = feature_store.symbols()
        group = group or (registered.loc[registered["symbol"] == symbol, "group"].tolist() or ["prices"])[0]
        frame = feature_store.read(symbol, start, end, as_of=as_of, group=group)
        click.echo(f"{symbol} ({group}): {len(frame)} rows" + (f" known at {as_of}" if as_of else ""))
        click.echo(frame.tail(rows).to_string(index=False))


@store.command("validate")
@click.option("--repair", is_flag=True, help="Recompute derived groups that are out of step with prices "
                                             "(e.g. after a writer was killed between the two commits).")
@store_option
@user_errors
def store_validate(repair: bool, store_url: str | None) -> None:
    """Check the store: stored rows against the rules, derived groups against prices, leftover files.

    Exits 1 if a stored row breaks a rule or a derived group is out of step; files left by killed
    writers and quarantined rows are reported but are not errors.

    \b
    Example:
        hpcast store validate --store s3://team-bucket/hpcast
    """
    from hpcast.store import FeatureStore
    from hpcast.store.check import check_store

    feature_store = FeatureStore(store_url)
    findings = check_store(feature_store)
    if repair and findings.derived_out_of_step:
        firsts = feature_store.read(group="prices", columns=[]).groupby("symbol")["date"].min()
        written = feature_store.refresh_derived(firsts.to_dict())
        click.echo(f"repaired: {written}")
        findings = check_store(feature_store)
    for line in findings.lines():
        click.echo(line)
    if findings.problems:
        raise click.ClickException(f"{len(findings.problems)} problem(s) found")


__all__ = ["report_upserts", "run_update", "store", "store_option", "update_options"]
