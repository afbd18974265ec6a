"""The ``hpcast`` command: a thin veneer over `hpcast.jobs`, `hpcast.data` and the models.

One module per group of commands: `datasets` (data list/show, fetch), `training` (train, also through
torchrun), `runs` (demo, backtest, forecast, plot), `scratch` (the from-scratch LSTM study); `options`
holds the flags they share. Heavy libraries (torch, statsmodels, matplotlib, yfinance) are imported
inside commands, so ``hpcast --help`` answers instantly. Every command's help ends with an example;
``docs/cli.md`` is generated from these help texts (``make docs``) and a test keeps the two in step.
"""

from __future__ import annotations

import click

from hpcast import __version__

__all__ = ["cli", "main", "render_docs"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hpcast", message="%(prog)s %(version)s")
def cli() -> None:
    """Forecast financial time series with LSTM networks, honestly and fast.

    Start with `hpcast demo`, then point any command at a bundled dataset (--dataset), your own CSV
    (--csv) or a Yahoo ticker (--ticker). Every run writes a folder under runs/ with a report.

    \b
    Example:
        hpcast train --dataset air_passengers --epochs 50
    """


def _walk(group: click.Group, prefix: str) -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix} {name}"
        found.append((full, command))
        if isinstance(command, click.Group):
            found += _walk(command, full)
    return found


def render_docs() -> str:
    """Markdown reference of every command, from the same help texts the terminal shows."""
    parts = ["# hpcast command reference", "", "Generated from `--help` by `make docs`; do not edit by hand.", ""]
    for full, command in [("hpcast", cli), *_walk(cli, "hpcast")]:
        with click.Context(command, info_name=full, terminal_width=100, max_content_width=100,
                           help_option_names=["-h", "--help"]) as context:
            parts += [f"## `{full}`", "", "```", command.get_help(context), "```", ""]
    return "\n".join(parts)


def main() -> None:
    cli(prog_name="hpcast")


# Registers the commands on `cli` (each module decorates with @cli.command / @cli.group).
from hpcast.cli import (  # noqa: E402, F401
    datasets,
    features,
    invest,
    models,
    pipelines,
    registry,
    runs,
    scratch,
    store,
    training,
    tune,
)
