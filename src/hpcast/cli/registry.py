"""``hpcast registry list|show|promote|ui``: the MLflow model registry."""

from __future__ import annotations

import click

from hpcast._uris import redact
from hpcast.cli import cli
from hpcast.cli.options import console, user_errors


@cli.group()
def registry() -> None:
    """Registered models (MLflow), per asset or global, their versions, metrics and aliases.

    SQLite under ./hpcast-data by default (HPCAST_DATA moves it); HPCAST_TRACKING_URI points at an
    MLflow server instead. Models are safetensors + manifest; loading never unpickles. A model trained
    on several series (hpcast train --datasets aapl,msft --register global-tech) is one global model,
    registered once; it serves each asset it covers that has no champion of its own.

    \b
    Example:
        hpcast registry list
    """


@registry.command("list")
@user_errors
def registry_list() -> None:
    """One line per model: scope, the symbols it covers, versions, champion, challenger.

    A global model covers the symbols its champion was fitted on (its latest version's when it has none).

    \b
    Example:
        hpcast registry list
    """
    from rich.table import Table

    from hpcast.registry import CHALLENGER, CHAMPION, Registry, model_name

    store = Registry()
    table = Table("asset", "model", "scope", "covers", "versions", CHAMPION, CHALLENGER, "champion backtest MASE",
                  box=None)
    for asset in store.assets():
        versions = store.versions(asset)
        scope, symbols = store.coverage(asset)
        champion = next((v for v in versions if CHAMPION in v.aliases), None)
        challenger = next((v for v in versions if CHALLENGER in v.aliases), None)
        covers = (champion.symbols if champion and champion.symbols else symbols) if scope == "global" else symbols
        table.add_row(asset, model_name(asset), scope, ", ".join(covers), str(len(versions)),
                      str(champion.version) if champion else "-", str(challenger.version) if challenger else "-",
                      champion.tags.get("backtest_mase", "-")[:6] if champion else "-")
    console().print(table)
    click.echo(f"registry: {redact(store.uri)}")


@registry.command("show")
@click.argument("asset")
@user_errors
def registry_show(asset: str) -> None:
    """Every version of ASSET's model: aliases, when, validation loss, backtest MASE against naive.

    ASSET is an asset or a global model's name. For a global model, each version's symbols are shown;
    for an asset without a model of its own, the global champion that serves it is named.

    \b
    Example:
        hpcast registry show sp500
        hpcast registry show global-tech
    """
    from rich.table import Table

    from hpcast.errors import RegistryError
    from hpcast.registry import Registry, model_name

    store = Registry()
    try:
        versions = store.versions(asset)
    except RegistryError:
        found = store.resolve(asset)
        if found is None:
            raise
        click.echo(f"{asset} has no model of its own; it is served by the global model {model_name(found.key)} "
                   f"(champion v{found.version}, covering {', '.join(found.symbols)})")
        asset, versions = found.key, store.versions(found.key)
    scope, symbols = store.coverage(asset)
    if scope == "global":
        click.echo(f"{model_name(asset)}: a global model, one network over {', '.join(symbols)} (latest version); "
                   "it serves each of them that has no champion of its own")
    table = Table("version", "aliases", "created (UTC)", "best val loss", "s/epoch", "backtest MASE", "naive MASE",
                  "data end", *(("symbols",) if scope == "global" else ()), "run", box=None)
    for v in versions:
        table.add_row(str(v.version), ", ".join(v.aliases) or "-", v.created,
                      f"{v.metrics.get('best_val_loss', float('nan')):.4g}",
                      f"{v.metrics.get('seconds_per_epoch', float('nan')):.2f}",
                      v.tags.get("backtest_mase", "-")[:6], v.tags.get("naive_mase", "-")[:6],
                      v.tags.get("data_end", "-"), *((", ".join(v.symbols),) if scope == "global" else ()),
                      v.run_id[:8])
    console().print(table)


@registry.command("promote")
@click.argument("asset")
@click.argument("version", type=int)
@click.option("--alias", default="champion", show_default=True, help="Alias to move.")
@user_errors
def registry_promote(asset: str, version: int, alias: str) -> None:
    """Point ASSET's alias (champion by default) at VERSION, by hand.

    \b
    Example:
        hpcast registry promote sp500 3
    """
    from hpcast.registry import Registry, model_name

    Registry().promote(asset, version, alias)
    click.echo(f"{model_name(asset)}@{alias} -> version {version}")


@registry.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (keep it local).")
@click.option("--port", type=int, default=5000, show_default=True)
def registry_ui(host: str, port: int) -> None:
    """Start the MLflow web UI on the registry (Ctrl-C stops it).

    \b
    Example:
        hpcast registry ui --port 5001
    """
    import subprocess
    import sys

    from hpcast.registry import data_dir, tracking_uri

    uri = tracking_uri()
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    if uri.startswith("sqlite:"):
        command += ["--default-artifact-root", (data_dir() / "mlartifacts").as_uri()]
        data_dir().mkdir(parents=True, exist_ok=True)
    click.echo(f"MLflow UI on http://{host}:{port} for {redact(uri)} (Ctrl-C to stop)", err=True)
    try:
        subprocess.run(command, check=False)
    except KeyboardInterrupt:
        click.echo("MLflow UI stopped", err=True)
