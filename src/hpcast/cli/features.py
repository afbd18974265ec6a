"""``hpcast features spectrogram``: return spectrograms of one or many series, written as a dataset on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from hpcast.cli import cli
from hpcast.cli.options import choice, console, data_options, load_dataset, user_errors
from hpcast.cli.store import store_option
from hpcast.features.spectrogram import Taper


@cli.group()
def features() -> None:
    """Feature sets written to disk for the models that read them.

    \b
    Example:
        hpcast features spectrogram --dataset sp500 --window 256 --n-fft 64 --hop 8
    """


@features.command("spectrogram")
@data_options
@click.option("--symbols", metavar="A,B,..", help="Several price series in one dataset: bundled ones, or with "
                                                  "--from-store the feature store's (instead of --dataset/--csv/"
                                                  "--ticker).")
@click.option("--from-store", is_flag=True, help="Read --symbols from the feature store (--store / HPCAST_STORE).")
@store_option
@click.option("--window", type=int, default=256, show_default=True, help="Returns per spectrogram.")
@click.option("--n-fft", type=int, default=64, show_default=True, help="FFT size per frame.")
@click.option("--hop", type=int, default=8, show_default=True, help="Returns between frames.")
@click.option("--taper", type=choice(Taper), default="hann",
              show_default=True, help="Window function per frame.")
@click.option("--cutoff", metavar="DATE", help="Last date whose samples train (normalisation is fitted on "
                                               "them) [default: the date before which 80% of samples fall].")
@click.option("--out", metavar="DIR", help="Dataset folder; run it again with more symbols or newer prices "
                                           "to add to it [default: runs/<timestamp>-spectrogram].")
@user_errors
def features_spectrogram(symbols: str | None, from_store: bool, store_url: str | None, window: int, n_fft: int,
                         hop: int, taper: str, cutoff: str | None, out: str | None, **kwargs: Any) -> None:
    """Log-magnitude STFT of every window of returns, memory-mapped per symbol, with a JSON index.

    Each sample sees only the returns up to its date; its target is the next day's log return. Adding
    a symbol, or newer prices of one, writes only that symbol's files. A PNG shows a few spectrograms
    beside the prices they came from.

    \b
    Example:
        hpcast features spectrogram --dataset sp500 --window 256 --n-fft 64 --hop 8 --out runs/spec
        hpcast features spectrogram --symbols sp500,nasdaq,aapl,msft,goog --out runs/spec
        hpcast features spectrogram --symbols sp500,gold --from-store --out runs/spec-store
    """
    import numpy as np
    import pandas as pd

    from hpcast.data import load_bundled
    from hpcast.features.spectrogram import SpectrogramConfig
    from hpcast.features.spectrogram_dataset import build_spectrograms, dataset_bytes, load_index
    from hpcast.jobs import new_run_folder
    from hpcast.viz.plots import spectrogram_plot

    config = SpectrogramConfig(window, n_fft, hop, taper)
    if symbols:
        if any(kwargs.get(k) for k in ("dataset", "csv", "ticker")):
            raise click.UsageError("give --symbols or one of --dataset/--csv/--ticker, not both")
        names = [name.strip() for name in symbols.split(",") if name.strip()]
        if from_store:
            from hpcast.store import FeatureStore

            store = FeatureStore(store_url)
            prices = {name: store.dataset(name).series() for name in names}
        else:
            prices = {name: load_bundled(name).series() for name in names}
    else:
        if from_store:
            raise click.UsageError("--from-store reads --symbols: name them")
        dataset, column = load_dataset(kwargs)
        prices = {dataset.name: dataset.series(column)}
    folder = Path(out) if out else new_run_folder("spectrogram")
    if cutoff is None:
        if (folder / "index.json").exists():
            cutoff = load_index(folder)["cutoff"]
        else:
            dates = np.concatenate([series.index[window + 1:].as_unit("ns").asi8 for series in prices.values()])
            cutoff = pd.Timestamp(int(np.quantile(dates, 0.8))).date().isoformat()
    with console().status("building spectrograms") as status:
        index = build_spectrograms(folder, prices, config, cutoff,
                                   progress=lambda name, action: status.update(f"{name}: {action}"))
    for name in prices:
        entry = index["symbols"][name]
        click.echo(f"{name}: {entry['samples']:,} samples {entry['first']}..{entry['last']} "
                   f"({entry['train']:,} training, cutoff {index['cutoff']})")
    first = next(iter(prices))
    figure = spectrogram_plot(prices[first].rename(first), config, folder / f"{first}-spectrograms.png")
    click.echo(f"{dataset_bytes(folder) / 1e6:,.1f} MB in {folder}; picture: {figure}")
