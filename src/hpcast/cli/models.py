"""``hpcast models``: the model table, the one place a model is chosen by name."""

from __future__ import annotations

from hpcast.cli import cli
from hpcast.cli.options import typed


def _flat(settings: dict, prefix: str = "") -> list[tuple[str, object]]:
    """Nested settings as ``spectrogram.window=256`` pairs."""
    pairs: list[tuple[str, object]] = []
    for key, value in settings.items():
        pairs += _flat(value, f"{prefix}{key}.") if isinstance(value, dict) else [(prefix + key, value)]
    return pairs


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
        settings = ", ".join(f"{key}={typed(value)}" for key, value in _flat(dataclasses.asdict(spec.config()))
                             if key != "kind")
        table.add_row(name, "network" if spec.network else "baseline", spec.description, settings or "—")
    console().print(table)
