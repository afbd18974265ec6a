"""``hpcast models``: the model table, the one place a model is chosen by name."""

from __future__ import annotations

from hpcast.cli import cli


@cli.command()
def models() -> None:
    """List the models `--model` and `--models` accept, with what each is and its settings.

    Networks are fitted by one trainer and give conformal bands; baselines are the yardsticks every
    backtest sets them beside.

    \b
    Example:
        hpcast models
    """
    import dataclasses

    from rich.table import Table

    from hpcast.cli.options import console
    from hpcast.forecast.table import MODELS

    table = Table("name", "kind", "what it is", "settings (defaults)", title="hpcast models")
    for name, spec in MODELS.items():
        settings = ", ".join(f"{f.name}={getattr(spec.config(), f.name)}" for f in dataclasses.fields(spec.config)
                             if f.name != "kind")
        table.add_row(name, "network" if spec.network else "baseline", spec.description, settings or "—")
    console().print(table)
