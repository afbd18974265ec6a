"""``hpcast demo|backtest|forecast|plot``: whole runs that write a run folder."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import click

from hpcast.cli import cli
from hpcast.cli.options import (
    DATA_FLAGS,
    choice,
    console,
    data_options,
    default,
    load_panel_flags,
    run_config,
    saved_config,
    spectro_options,
    train_options,
    user_errors,
)
from hpcast.config import Scope
from hpcast.errors import ConfigError


@cli.command()
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-demo].")
@click.option("--epochs", type=int, help="Maximum epochs per fit [default: 100].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@user_errors
def demo(out: str | None, epochs: int | None, seed: int) -> None:
    """Run the whole flow offline on bundled S&P 500 prices.

    Trains the default LSTM, backtests it against naive, seasonal naive, drift and ARIMA on the same
    walk-forward folds, forecasts the next 30 trading days with 80%/95% intervals, and writes
    report.md, forecast.csv, metrics.json, manifest.json, the model and PNG plots.

    \b
    Example:
        hpcast demo --out runs/demo
    """
    from hpcast.jobs import demo as run_demo

    folder = run_demo(out, epochs=epochs, seed=seed)
    click.echo(f"report: {folder / 'report.md'}")


def _print_backtest(result: Any) -> None:
    from rich.table import Table

    from hpcast.evaluate.metrics import METRICS, shown_columns
    from hpcast.report import (
        VAR_COLUMNS,
        calibration_verdict,
        mase_scale_words,
        regime_coverage_lines,
        var_rows,
        verdict,
    )

    def cell(metric: Any, value: float) -> str:
        return "—" if value != value else f"{100 * value:.1f}" if metric.percent else f"{value:.3f}"

    metrics = result.to_dict()["metrics"]
    columns = [column for family in shown_columns(metrics.values()).values() for column in family
               if column.regime is None]  # distribution metrics only where some model has them
    point = [column for column in columns if column.requires == ("points",)]
    distribution = [column for column in columns if column.requires != ("points",)]
    title = f"walk-forward backtest: {len(result.origins)} folds × {result.horizon} steps"
    terminal = console()
    for shown, caption in ((point, title), (distribution, "the forecast distributions (models that give one)")):
        if not shown:
            continue
        table = Table("model", *(column.label for column in shown), title=caption)
        for model, row in result.metrics.iterrows():
            if shown is distribution and all(row.get(c.name, float("nan")) != row.get(c.name, float("nan"))
                                             for c in shown):
                continue  # a point model has no row here
            table.add_row(model, *(cell(column, row.get(column.name, float("nan"))) for column in shown),
                          style="bold" if model in result.coverage else None)
        terminal.print(table)
    symbols = result.per_series.index.get_level_values("symbol").unique() if len(result.per_series) else []
    if len(symbols) > 1:
        shown = {name: metric for name, metric in METRICS.items() if metric.per_series}
        per = Table("model", "series", *(metric.label for metric in shown.values()), "DM p vs naive",
                    title="per series (each beside its own naive forecast; DM: Diebold-Mariano, two-sided)")
        for (model, symbol), row in result.per_series.iterrows():
            p = row.get("dm_pvalue", float("nan"))
            per.add_row(str(model), str(symbol), *(cell(metric, row.get(name, float("nan")))
                                                   for name, metric in shown.items()), "—" if p != p else f"{p:.3f}")
        terminal.print(per)
    terminal.print(f"MASE is scaled by {mase_scale_words(result.season)}.")
    terminal.print(verdict(metrics))
    if calibration := calibration_verdict(metrics):
        terminal.print(calibration)
    for model, levels in result.coverage.items():
        terminal.print(f"{model} interval coverage: " + ", ".join(f"{float(k):.0%} band held {v:.0%}"
                                                                  for k, v in levels.items()))
    for line in regime_coverage_lines(metrics):
        terminal.print(f"coverage by volatility tercile (low / mid / high), {line}")
    if result.var:
        var = Table(*VAR_COLUMNS, title="value at risk, one step ahead (exceptions: returns below the VaR line)")
        for row in var_rows(result.var):
            var.add_row(*row)
        terminal.print(var)


class _ListsMetrics(click.Command):
    """A command whose help lists the metric table (`hpcast.evaluate.metrics.METRICS`) where it says
    ``{metrics}``, read when the help is shown: the table's package loads pandas and torch, too slow for
    every start of ``hpcast``."""

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from hpcast.evaluate.metrics import METRICS

        listed = ", ".join(f"{metric.label} ({metric.description})" for metric in METRICS.values())
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(inspect.cleandoc(self.help or "").partition("\f")[0].replace("{metrics}", listed))


@cli.command(cls=_ListsMetrics)
@data_options
@train_options
@click.option("--test-size", type=int, help="Dates at the end covered by folds [default: 3 horizons "
                                            "daily, 2 otherwise].")
@click.option("--step", type=int, help="Dates between fold origins [default: the horizon].")
@click.option("--var", metavar="L1,L2",
              help="Backtest the one-step value at risk at these levels (0.99: the 1% quantile, the lower edge of "
                   "the 98% band, which is added): exceptions, Kupiec, Christoffersen, the Basel traffic light per "
                   "250 days, and a chart of returns against each model's VaR line.")
@click.option("--adaptive", type=float, metavar="GAMMA",
              help="With --horizon 1: add each model with bands again as MODEL+aci, its bands adapted online from "
                   "the hits of the days before (adaptive conformal inference, step size GAMMA, e.g. 0.005).")
@click.option("--refit-every", type=click.IntRange(min=1), metavar="K",
              help="Refit the models at every K-th origin only; the origins between forecast with the latest fit "
                   "and their own history (--step 1 --refit-every 21: daily origins, monthly refits) "
                   "[default: refit at every origin].")
@click.option("--scope", type=choice(Scope),
              help="On several series: refit each network as one global model (global), or one per series "
                   f"[default: {default('backtest.scope')}].")
@spectro_options
@click.option("--models", help="Comma-separated models to compare, by their names in `hpcast models` (spectro-cnn "
                                "needs --horizon 1; seasonal_naive monthly and quarterly data, the only ones that "
                                "declare a season) [default: the network, naive, drift, arima, and seasonal_naive "
                                "where a season is declared].")
@click.option("--model", "model_dir", metavar="DIR",
              help="Backtest the configuration of a trained run (refitted on every fold).")
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-backtest].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def backtest(out: str | None, models: str, model_dir: str | None, quiet: bool, **kwargs: Any) -> None:
    """Walk-forward backtest: the network beside the baselines on the same folds, per series and pooled.

    Model flags (--layers, --n-fft, ...) set the first network of --models; other networks run on their
    defaults. Each fold refits every model (and its scalers) on the data dated before its origin only; on
    several series the folds' origins are dates shared by the panel. Metrics, pooled and per series:
    {metrics}; each series beside its own naive forecast with a Diebold-Mariano test; plus the empirical
    coverage of every model's conformal intervals.

    \b
    Example:
        hpcast backtest --dataset air_passengers --test-size 24
        hpcast backtest --dataset air_passengers --test-size 24 --model runs/air
        hpcast backtest --dataset sp500 --horizon 1 --test-size 60 --models spectro-cnn,lstm,naive
        hpcast backtest --datasets sp500,nasdaq,aapl,msft,goog --covariates volume,calendar --models lstm,naive
    """
    from hpcast.forecast.table import model_spec
    from hpcast.jobs import backtest_job, new_run_folder

    panel = load_panel_flags(kwargs)
    chosen = tuple(m.strip() for m in models.split(",") if m.strip()) if models else None
    networks = [name for name in chosen or () if model_spec(name).network is not None]
    if networks and not model_dir:  # the model flags set the first network's settings; the others run on defaults
        kwargs["kind"] = networks[0]
    config = run_config(kwargs, saved_config(model_dir) if model_dir else None)
    folder = new_run_folder("backtest", out)
    result = backtest_job(panel, config, folder, models=chosen, quiet=quiet)
    _print_backtest(result)
    click.echo(f"report: {folder / 'report.md'}")


@cli.command()
@data_options
@train_options
@click.option("--model", "model_dir", metavar="DIR", help="Use a saved model (a run folder or its model/).")
@click.option("--steps", type=int, help="How many steps to forecast [default: the model's horizon].")
@click.option("--out", metavar="DIR", help="Run folder [default: runs/<timestamp>-forecast].")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@user_errors
def forecast(model_dir: str | None, steps: int | None, out: str | None, quiet: bool, **kwargs: Any) -> None:
    """Forecast the next steps of every series with 80%/95% prediction intervals (training first unless --model).

    A saved model reads the covariates it was trained with (unless --covariates says otherwise).

    \b
    Example:
        hpcast forecast --dataset sp500 --model runs/my-train --out runs/my-forecast
        hpcast forecast --datasets sp500,nasdaq --covariates calendar --epochs 20
    """
    from hpcast.forecast.base import load_forecaster
    from hpcast.jobs import forecast_job, new_run_folder, train_job

    calendar_given = kwargs.get("calendar") is not None
    if model_dir:
        given = sorted("--config" if k == "config_path" else f"--{k.replace('_', '-')}" for k, v in kwargs.items()
                       if v not in (None, False) and k not in DATA_FLAGS)
        if given:
            raise click.UsageError(f"{', '.join(given)} only apply when training; a saved model (--model) "
                                   "keeps its own settings")
        path = Path(model_dir)
        forecaster = load_forecaster(path / "model" if (path / "model").is_dir() else path)
        inputs = [*getattr(forecaster, "columns", ())[1:], *getattr(forecaster, "known_future", ())]
        if kwargs.get("covariates") is None and inputs:
            kwargs["covariates"] = ",".join(inputs)
    panel = load_panel_flags(kwargs)
    if model_dir:
        if forecaster.freq != panel.freq:
            raise ConfigError(f"model was trained on {forecaster.freq!r} data, this series is {panel.freq!r}")
        if calendar_given:  # the model keeps the calendars it was trained on unless --calendar says otherwise
            for s, symbol in enumerate(panel.symbols):
                forecaster.series[forecaster.model_symbol(symbol, panel.n_series)]["calendar"] = panel.calendars[s]
        folder = new_run_folder("forecast", out)
    else:
        config = run_config(kwargs)
        folder = new_run_folder("forecast", out)
        forecaster = train_job(panel, config, folder, quiet=quiet)
    table = forecast_job(panel, forecaster, folder, horizon=steps)
    click.echo(table.assign(date=table["date"].dt.date).to_string(index=False, float_format=lambda v: f"{v:,.2f}"))
    click.echo(f"forecast: {folder / 'forecast.csv'}\nplots: {folder}")


@cli.command()
@data_options
@click.option("--run", "run_dir", metavar="DIR", help="Also redraw this run's loss curve, backtest and forecast.")
@click.option("--out", metavar="DIR", help="Folder for the PNGs [default: the --run folder, else "
                                           "runs/<timestamp>-plot].")
@user_errors
def plot(run_dir: str | None, out: str | None, **kwargs: Any) -> None:
    """Plot a series with its moving averages (MA100/MA200 for daily data), and redraw a run's plots.

    `train`, `backtest` and `forecast` draw their plots when they run; --run redraws them (loss curve,
    backtest predictions against actuals, forecast fan chart) from the run's saved files.

    \b
    Example:
        hpcast plot --dataset sp500 --out runs/plots
        hpcast plot --dataset sp500 --run runs/my-demo
    """
    from hpcast.jobs import new_run_folder, plot_job

    panel = load_panel_flags(kwargs)
    run = Path(run_dir) if run_dir else None
    if run is not None and not run.is_dir():
        raise click.UsageError(f"--run ({run}) must be an existing run folder")
    folder = new_run_folder("plot", out or run)
    for path in plot_job(panel, folder, run=run):
        click.echo(f"plot: {path}")
