"""``hpcast app`` and ``hpcast invest simulate|forecast|calibrate``: the investor's answer, served or printed."""

from __future__ import annotations

import json
from typing import Any

import click
from click.core import ParameterSource

from hpcast.app.config import DEFAULTS, ServeConfig, host_warning, is_loopback
from hpcast.cli import cli
from hpcast.cli.options import console, user_errors
from hpcast.cli.store import store_option


def _allocation(pairs: tuple[str, ...]) -> dict[str, float]:
    """``("sp500=60", "gold=40")`` -> ``{"sp500": 60.0, "gold": 40.0}``."""
    allocation = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            allocation[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise click.BadParameter(f"{pair!r} must be ASSET=PERCENT, e.g. sp500=60", param_hint="--alloc")
    return allocation


def _advisor(store_url: str | None, registry: bool) -> Any:
    from hpcast.invest import Advisor

    return Advisor.open(store_url, registry=registry, backfill_if_empty=True)


def _input_errors(command: Any) -> Any:
    """Print each broken rule of a request on its own line (exit 1) instead of one long sentence."""
    import functools

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from hpcast.errors import InputError

        try:
            return command(*args, **kwargs)
        except InputError as error:
            raise click.ClickException("\n".join(f"{name}: {message}" for name, message in error.errors)) from error

    return wrapper


alloc_option = click.option("--alloc", "allocation", multiple=True, metavar="ASSET=PERCENT", required=True,
                            help="Percent in one asset; repeat, summing to 100 (assets: `hpcast invest assets`).")
horizon_option = click.option("--months", type=int, default=6, show_default=True, help="Horizon in months (1-12).")
as_of_option = click.option("--as-of", metavar="DATE",
                            help="Start date [default: the latest date every chosen asset has data for].")
registry_option = click.option("--no-registry", "registry", flag_value=False, default=True,
                               help="Ignore registered models: every asset uses the historical-drift baseline.")


_NOISE = ("filtered", "bootstrap")  # hpcast.invest.simulate.NOISE (not imported: it needs pandas; a test compares)
_HOST_SOURCES = {ParameterSource.ENVIRONMENT: "$HPCAST_APP_HOST",
                 ParameterSource.DEFAULT_MAP: "the configuration defaults"}


@cli.command("app")
@click.option("--host", default=DEFAULTS.host, show_default=True, envvar="HPCAST_APP_HOST", show_envvar=True,
              help="Address to bind. A non-loopback one (0.0.0.0, a LAN address) is bound only when given here "
                   "on the command line; keep 127.0.0.1 behind a reverse proxy.")
@click.option("--port", type=int, default=DEFAULTS.port, show_default=True)
@click.option("--root-path", default=DEFAULTS.root_path, show_default=True, metavar="/PREFIX",
              help="Public path prefix when a reverse proxy serves the app under a sub-path (e.g. /hpcast): "
                   "the page's links, its queue and the API's OpenAPI document then point there.")
@click.option("--workers", type=int, default=DEFAULTS.workers, show_default=True,
              help="Server processes, each with its own copy of the store and models. Keep 1 when the page is "
                   "used: Gradio's queue lives in one process (deploy/README.md has the measured latency).")
@click.option("--threads", type=int, default=DEFAULTS.threads, show_default=True,
              help="API simulations each process runs at once; the others wait their turn.")
@registry_option
@store_option
@user_errors
def app(host: str, port: int, root_path: str, workers: int, threads: int, registry: bool,
        store_url: str | None) -> None:
    """Start the investor web page and its REST API on one server (Ctrl-C stops it).

    The page is at /, the API at /api/v1 (simulate, forecast, assets, calibration) with its OpenAPI
    document at /api/v1/openapi.json and interactive docs at /api/docs, all under --root-path when
    given. An empty store is first filled from the bundled series; champions come from the registry
    (HPCAST_DATA / HPCAST_TRACKING_URI). deploy/README.md sets it up behind nginx with systemd.

    \b
    Example:
        hpcast app --port 7860 --root-path /hpcast
    """
    from hpcast.app.server import serve

    source = click.get_current_context().get_parameter_source("host")
    if not is_loopback(host) and source is not ParameterSource.COMMANDLINE:
        raise click.BadParameter(f"{host!r} came from {_HOST_SOURCES.get(source, 'the default')}: a "
                                 "non-loopback address is bound only when given as --host on the command line",
                                 param_hint="--host")
    config = ServeConfig(host, port, root_path, workers, threads, store_url, registry)
    with console().status("loading the store and the registry"):
        advisor = _advisor(store_url, registry)  # fills an empty store once, before any worker starts
    names = ", ".join(advisor.market.names())
    where = f" (public prefix {config.root_path})" if config.prefix else ""
    click.echo(f"hpcast app on http://{host}:{port}{where}, {workers} worker(s) x {threads} thread(s); API docs: "
               f"{config.prefix}/api/docs; assets: {names}", err=True)
    warning = host_warning(host)
    if warning:
        click.echo(warning, err=True)
    serve(config, advisor if workers == 1 else None)


@cli.group()
def invest() -> None:
    """What an allocation may be worth after inflation: the simulator behind `hpcast app`, in the terminal.

    \b
    Example:
        hpcast invest simulate --alloc sp500=60 --alloc gold=40 --months 6
    """


@invest.command("assets")
@registry_option
@store_option
@user_errors
def invest_assets(registry: bool, store_url: str | None) -> None:
    """The assets an allocation can use, their dates and the model behind each forecast.

    \b
    Example:
        hpcast invest assets
    """
    from rich.table import Table

    answer = _advisor(store_url, registry).assets()
    table = Table("asset", "first", "last", "forecast from", "description", box=None)
    for entry in answer["assets"]:
        table.add_row(entry["name"], entry["first_date"], entry["last_date"], entry.get("source", "known rate"),
                      entry["description"])
    console().print(table)
    inflation = answer["inflation"]
    if "error" in inflation:
        click.echo(f"inflation: {inflation['error']}")
    else:
        click.echo(f"inflation: {inflation['series']} year on year, {inflation['annual_rate']:.2%} through "
                   f"{inflation['through'][:7]}")


@invest.command("simulate")
@click.option("--amount", type=float, default=10000, show_default=True, help="Amount invested today.")
@alloc_option
@horizon_option
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON (what the API returns).")
@registry_option
@store_option
@user_errors
@_input_errors
def invest_simulate(amount: float, allocation: tuple[str, ...], months: int, as_of: str | None, as_json: bool,
                    registry: bool, store_url: str | None) -> None:
    """Distribution of the portfolio's value at the horizon, nominal and after projected inflation.

    \b
    Example:
        hpcast invest simulate --amount 10000 --alloc sp500=60 --alloc gold=40 --months 6 --as-of 2017-12-29
    """
    from hpcast.app.ui import asset_table

    answer = _advisor(store_url, registry).simulate(amount, _allocation(allocation), months, as_of).to_dict()
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    real, nominal = answer["real"], answer["nominal"]
    click.echo(f"{answer['amount']:,.2f} from {answer['as_of']} to {answer['horizon']['end']} "
               f"({answer['horizon']['months']} months)")
    for label, numbers in (("real", real), ("nominal", nominal)):
        click.echo(f"  {label:8s} median {numbers['median']:>12,.2f}   "
                   f"5-95% {numbers['p5']:,.2f} to {numbers['p95']:,.2f}")
    click.echo(f"  probability of a real loss {answer['probability_real_loss']:.0%}; expected real return "
               f"{answer['expected_real_return']:+.2%}; inflation {answer['inflation']['annual_rate']:.2%}/yr "
               f"({answer['inflation']['series']})")
    if answer["regime"]:
        click.echo(answer["regime"]["sentence"])
    click.echo(asset_table(answer).to_string(index=False))
    for entry in answer["assets"]:
        click.echo(f"- {entry['asset']}: {entry['skill']}")
        if entry["volatility"]:
            volatility = entry["volatility"]
            click.echo(f"  width: {volatility['label']}, {volatility['annual_volatility']:.0%} a year tomorrow; "
                       f"{volatility['why']}")
    for note in answer["notes"]:
        if all(note != entry["skill"] for entry in answer["assets"]):
            click.echo(f"- {note}")


@invest.command("forecast")
@click.argument("asset")
@horizon_option
@as_of_option
@registry_option
@store_option
@user_errors
@_input_errors
def invest_forecast(asset: str, months: int, as_of: str | None, registry: bool, store_url: str | None) -> None:
    """One asset's price bands over the horizon (JSON, as `POST /api/v1/forecast` returns it).

    \b
    Example:
        hpcast invest forecast gold --months 3
    """
    click.echo(json.dumps(_advisor(store_url, registry).forecast(asset, months, as_of), indent=2))


@invest.command("calibrate")
@click.option("--alloc", "allocation", multiple=True, metavar="ASSET=PERCENT", default=("sp500=60", "gold=40"),
              show_default=True, help="The allocation to check; repeat, summing to 100.")
@horizon_option
@click.option("--every", type=click.IntRange(min=1), default=21, show_default=True,
              help="Business days between consecutive as-of dates.")
@click.option("--paths", type=click.IntRange(min=100), default=2000, show_default=True,
              help="Simulated paths per as-of date.")
@click.option("--noise", type=click.Choice(_NOISE), default=_NOISE[0], show_default=True,
              help="The simulator's noise: filtered (each asset's returns standardised by its volatility at the "
                   "time and rescaled by today's forecast, as the page serves) or bootstrap (the last five "
                   "years' returns as they were: the reference to compare against).")
@click.option("--out", metavar="DIR", help="Where calibration.json and reliability.png go (the app shows the "
                                           "latest) [default: <data>/calibration].")
@registry_option
@store_option
@user_errors
@_input_errors
def invest_calibrate(allocation: tuple[str, ...], months: int, every: int, paths: int, noise: str,
                     out: str | None, registry: bool, store_url: str | None) -> None:
    """Check the simulator's bands against what happened, over many past as-of dates.

    For each as-of date the simulator (champions only where they had not seen that date) predicts the
    real value at the horizon; the realised value uses actual prices and published CPI. Prints the share
    of outcomes inside the 90% band (goal 85-95%) and the coverage of every central band, then the 50%,
    80% and 90% bands by regime: per tercile of the allocation's 21-day volatility at the as-of dates, and
    per stress window (2008-09, Q4 2018, bitcoin's crashes) whose storm the horizon met, with the number of
    dates behind each share. Writes calibration.json and a reliability plot split by regime.

    \b
    Example:
        hpcast invest calibrate --alloc sp500=60 --alloc gold=40 --months 6
    """
    from pathlib import Path

    from rich.progress import Progress

    from hpcast.invest.calibrate import REGIME_LEVELS, calibrate, save_calibration

    advisor = _advisor(store_url, registry)
    with Progress(console=console(), transient=True) as bar:
        task = bar.add_task("calibrating", total=None)
        result = calibrate(advisor.market, advisor.outlooks, _allocation(allocation), months=months, every=every,
                           paths=paths, noise=noise, progress=lambda i, n: bar.update(task, completed=i, total=n))
    json_path, figure = save_calibration(result, Path(out) if out else advisor.calibration_folder)
    click.echo(result.headline())
    click.echo("central band promised -> share inside: " +
               ", ".join(f"{float(k):.0%}->{v:.0%}" for k, v in result.coverage().items()))
    click.echo(f"{'regime of the as-of date':28s} {'dates':>5s} {'50%':>5s} {'80%':>5s} {'90%':>5s}")
    rows = {f"{name} volatility": row for name, row in result.regimes().items()} | result.stress()
    for name, row in rows.items():
        shares = [f"{row['coverage'][f'{level:g}']:.0%}" if row["dates"] else "-" for level in REGIME_LEVELS]
        click.echo(f"{name:28s} {row['dates']:>5d} " + " ".join(f"{share:>5s}" for share in shares))
    click.echo(f"wrote {json_path} and {figure}")
