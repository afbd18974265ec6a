"""``hpcast data list|show`` and ``hpcast fetch``: the bundled datasets and Yahoo Finance."""

from __future__ import annotations

import click

from hpcast.cli import cli
from hpcast.cli.options import (
    console,
    user_errors,
)


@cli.group()
def data() -> None:
    """List and inspect the bundled datasets.

    \b
    Example:
        hpcast data show sp500
    """


@data.command("list")
def data_list() -> None:
    """List bundled datasets with frequency, description and licence tier, then every source a command reads
    data from and the flags that pick it.

    \b
    Example:
        hpcast data list
    """
    from rich.table import Table

    from hpcast.data.bundled import BUNDLED
    from hpcast.inputs.sources import SOURCES, option_flag

    table = Table("name", "freq", "description", "licence", box=None)
    for name, info in BUNDLED.items():
        table.add_row(name, info.freq, info.description, info.licence.split(":")[0])
    terminal = console()
    terminal.print(table)
    sources = Table("source", "picked by", "takes", "what it reads", box=None, title="sources")
    for source in SOURCES.values():
        picked = " or ".join(option_flag(name) for name in source.picked_by)
        if source.needs:
            picked += f" with {option_flag(source.needs)}"
        takes = ", ".join(option_flag(name) for name in source.options if name not in (source.needs, "store"))
        sources.add_row(source.name, picked, takes, source.description)
    terminal.print(sources)


@data.command("show")
@click.argument("name")
@user_errors
def data_show(name: str) -> None:
    """Show a bundled dataset's range, frequency, calendar, rows, columns, source, licence, gaps and the
    covariates `--covariates` can add to it.

    \b
    Example:
        hpcast data show air_passengers
    """
    from hpcast.data import BUNDLED
    from hpcast.features.covariates import available_covariates
    from hpcast.inputs import load_data

    dataset = load_data(name)  # with the gap report in its notes
    info = BUNDLED[name]
    facts = {**dataset.summary(), "licence": info.licence, "caveat": info.caveat or "—",
             "covariates": f"{', '.join(available_covariates(dataset))} (--covariates; see `hpcast train --help`)",
             "notes": "; ".join(dataset.notes) or "—"}
    for key, value in facts.items():
        click.echo(f"{key:>10}: {value}")
    click.echo(dataset.frame.tail(3).to_string(index=False))


@cli.command()
@click.argument("ticker")
@click.option("--start", default="2000-01-01", show_default=True, help="First date.")
@click.option("--end", help="End date, exclusive [default: today].")
@click.option("--out", metavar="FILE", help="Also write the prices to this CSV (usable with --csv).")
@user_errors
def fetch(ticker: str, start: str, end: str | None, out: str | None) -> None:
    """Download daily prices from Yahoo Finance into the local cache.

    A second fetch of the same range is served from the cache without any request
    (cache folder: $HPCAST_CACHE or ./hpcast-data/cache).

    \b
    Example:
        hpcast fetch ^GSPC --start 2015-01-01 --out sp500.csv
    """
    from hpcast.data.yahoo import fetch_yahoo

    dataset = fetch_yahoo(ticker, start, end)
    summary = dataset.summary()
    click.echo(f"{ticker}: {summary['rows']} rows, {summary['from']} to {summary['to']} ({dataset.source})")
    if out:
        dataset.frame.drop(columns="symbol").to_csv(out, index=False)
        click.echo(f"written: {out}")
