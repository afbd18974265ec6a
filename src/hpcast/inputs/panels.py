"""Any source as one `Panel` (`load_panel`) or one `Dataset` (`load_data`): the rows of `SOURCES` read, then
each series' covariates added.

A panel's sources: bundled datasets (each keeps its own calendar, all must share a frequency), a CSV file
(long, see `hpcast.inputs.long_csv`, or of one series), the feature store's symbols as of a time, or one
series from Yahoo. Covariates (``covariates=``, see `hpcast.features.covariates`) are added series by series
after loading; a store source reads the series they need (``ret:NAME``, ``macro:*``) from the store as of the
same time.

Example:
    >>> panel = load_panel(datasets="sp500,nasdaq", covariates="volume,calendar")  # doctest: +SKIP
    >>> panel.symbols, panel.columns, panel.known_future                            # doctest: +SKIP
    (('sp500', 'nasdaq'), ('adj_close', 'volume'), ('calendar',))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from hpcast.data.bundled import load_bundled
from hpcast.data.csv import load_csv
from hpcast.data.frame import FREQUENCIES, Dataset
from hpcast.data.panel import Panel
from hpcast.data.yahoo import fetch_yahoo
from hpcast.errors import DataError
from hpcast.features.covariates import Covariate, add_covariates, bundled_series, parse_covariates
from hpcast.inputs.sources import (
    PANEL_PICKERS,
    SERIES_PICKERS,
    DataRequest,
    check_request,
    option_flag,
    pick_source,
    read_source,
)

__all__ = ["assemble", "cached", "from_datasets", "load_data", "load_panel", "one_frequency", "read_bundled",
           "read_csv", "read_store", "read_yahoo"]

Names = str | Sequence[str]


def load_panel(**options: Any) -> Panel:
    """Read one `Panel` from exactly one source, with covariates: ``options`` are `DataRequest`'s fields.

    Sources: ``datasets`` (bundled names, ``"sp500,nasdaq"``); ``csv``: a long file (``id_col`` given, or a
    ``unique_id`` column; ``date_col`` / ``value_col`` default ``ds`` / ``y``), else a one-series file as
    `hpcast.data.load_csv` reads it; ``symbols``: with ``from_store`` the feature store's (``store``: a URL or a
    `hpcast.store.FeatureStore`; ``as_of``: what it held then), else bundled names like ``datasets``;
    ``dataset`` / ``ticker`` (``start``, ``end``): one series as `load_data` gives it. The target is
    ``value_col`` or each dataset's own (``adj_close`` for prices); series whose targets are named differently
    share the name ``y``. ``covariates``: names as in `hpcast.features.covariates.parse_covariates`;
    ``missing``: the policy for a CSV file's cells and every covariate's holes; ``calendar`` overrides the
    calendar of daily series.

    Raises:
        DataError: no source or several, an option its source does not take, or a rule the data break.

    Example:
        >>> load_panel(datasets="sp500,nasdaq").symbols
        ('sp500', 'nasdaq')
        >>> load_panel(dataset="air_passengers").values.shape
        (144, 1)
    """
    request = DataRequest(**options)
    source, picker = pick_source(request)
    check_request(request, source, picker, panel=True)
    read = read_source(request, source)
    if isinstance(read, Panel):
        return read
    value_col = None if source.name == "csv" else request.value_col  # load_csv names its value column 'value'
    loaded = [_with_gap_notes(dataset) for dataset in read]
    several = picker in ("datasets", "symbols")
    name = ",".join(_names(getattr(request, picker), option_flag(picker))) if several else loaded[0].name
    return from_datasets(loaded, value_col, name=name, covariates=parse_covariates(request.covariates),
                         missing=request.missing, resolve=cached(bundled_series))


def load_data(dataset: str | None = None, **options: Any) -> Dataset:
    """Read one series, from exactly one of ``dataset`` (bundled name), ``csv`` (a file) or ``ticker`` (Yahoo).

    ``options`` are `DataRequest`'s: ``date_format`` and ``missing`` are `hpcast.data.load_csv`'s and apply to
    ``csv`` only; ``calendar`` overrides the source's calendar of a daily series (a name in
    `hpcast.data.calendars.CALENDARS`). Dates the calendar (or a periodic series' anchor) expects but the data
    lack are counted in ``notes``, never skipped silently.

    Example:
        >>> load_data("air_passengers").freq
        'MS'
    """
    request = DataRequest(dataset=dataset, **options)
    if many := [option_flag(name) for name in PANEL_PICKERS if name not in SERIES_PICKERS and getattr(request, name)]:
        raise DataError(f"{', '.join(many)} read a panel of many series: load_panel reads them, load_data one series")
    source, picker = pick_source(request, SERIES_PICKERS)
    check_request(request, source, picker, panel=False)
    return _with_gap_notes(read_source(request, source)[0])


# -- the readers `SOURCES` names --------------------------------------------------------------------------------
def read_bundled(request: DataRequest) -> list[Dataset]:
    picker = next(name for name in ("dataset", "datasets", "symbols") if getattr(request, name))
    names = [request.dataset] if picker == "dataset" else _names(getattr(request, picker), option_flag(picker))
    return [_calendar(load_bundled(name), request) for name in names]


def read_csv(request: DataRequest) -> list[Dataset]:
    assert request.csv is not None
    return [_calendar(load_csv(request.csv, date_col=request.date_col, value_col=request.value_col,
                               date_format=request.date_format, missing=request.missing), request)]


def read_yahoo(request: DataRequest) -> list[Dataset]:
    assert request.ticker is not None
    return [_calendar(fetch_yahoo(request.ticker, request.start or "2000-01-01", request.end), request)]


def read_store(request: DataRequest) -> Panel:
    """The feature store's symbols as of ``as_of``; the covariates' series come from the store too."""
    from hpcast.store import FeatureStore

    store = request.store if isinstance(request.store, FeatureStore) else FeatureStore(request.store)
    covariates = parse_covariates(request.covariates)
    symbols = _names(request.symbols, "--symbols")
    loaded = [_with_gap_notes(store.dataset(symbol, as_of=request.as_of)) for symbol in symbols]

    def with_volume(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The store's dataset keeps close and adj_close only: read volume when it is asked for."""
        if not any(c.kind == "volume" for c in covariates) or "adj_close" not in frame:
            return frame
        volume = store.read(symbol, as_of=request.as_of, columns=["volume"]).set_index("date")["volume"]
        return frame.assign(volume=volume.set_axis(pd.DatetimeIndex(volume.index).as_unit("ns")).reindex(frame.index))

    resolve = cached(lambda name: store.dataset(name, as_of=request.as_of).series())
    return from_datasets(loaded, request.value_col, name=",".join(symbols), covariates=covariates,
                         missing=request.missing, resolve=resolve, extra=with_volume)


def _calendar(dataset: Dataset, request: DataRequest) -> Dataset:
    return dataset if request.calendar is None else dataclasses.replace(dataset, calendar=request.calendar)


def _with_gap_notes(dataset: Dataset) -> Dataset:
    """``dataset`` with a note for each symbol whose dates lack some its calendar (or anchor) expects."""
    several = len(dataset.symbols) > 1
    notes = [f"{symbol}: {note}" if several else note for symbol in dataset.symbols
             if (note := dataset.gaps(symbol).note())]
    return dataclasses.replace(dataset, notes=(*dataset.notes, *notes)) if notes else dataset


# -- many series into one panel -------------------------------------------------------------------------------
def _names(text: Names | None, flag: str) -> list[str]:
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text or ())]
    names = [n for n in names if n]
    if not names:
        raise DataError(f"{flag} ({text!r}) must name at least one series")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{flag} names {', '.join(twice)} more than once")
    return names


def one_frequency(freqs: dict[str, str], what: str) -> str:
    """The frequency every series shares; else an error saying which series have which."""
    groups: dict[str, list[str]] = {}
    for symbol, freq in freqs.items():
        groups.setdefault(freq, []).append(symbol)
    if len(groups) > 1:
        listed = "; ".join(f"{', '.join(symbols)}: {freq} ({FREQUENCIES[freq][0]})" for freq, symbols in groups.items())
        raise DataError(f"{what} must share one frequency, got {listed}")
    return next(iter(groups))


def assemble(frames: dict[str, pd.DataFrame], targets: dict[str, str], freq: str,
              calendars: dict[str, str | None], *, name: str, notes: Sequence[str],
              covariates: tuple[Covariate, ...], missing: str, resolve: Callable[[str], pd.Series]) -> Panel:
    """Raw per-series frames (indexed by date) -> one panel: each target, then the covariates."""
    common = targets[next(iter(targets))] if len(set(targets.values())) == 1 else "y"  # mixed: Nixtla's name
    built, notes = {}, list(notes)
    for symbol, frame in frames.items():
        covered, more = add_covariates(frame, targets[symbol], covariates, symbol=symbol, missing=missing,
                                       resolve=resolve)
        built[symbol] = covered.rename(columns={targets[symbol]: common})
        notes += more
    panel = Panel.from_frames(built, freq, calendars, name=name, notes=notes, target=common)
    if any(c.known_future for c in covariates):
        panel = dataclasses.replace(panel, known_future=("calendar",))
    return panel


def _frames_of(dataset: Dataset, value_col: str | None) -> tuple[dict[str, pd.DataFrame], str]:
    """Each symbol's raw value columns indexed by date, and the target column."""
    target = value_col or dataset.target
    if target not in dataset.value_columns:
        raise DataError(f"value_col ({target!r}) must be a column of {dataset.name}: "
                        f"{', '.join(dataset.value_columns)}")
    frames = {}
    for symbol in dataset.symbols:
        rows = dataset.frame[dataset.frame["symbol"] == symbol]
        frame = rows.drop(columns="symbol").set_index("date")
        frame.index = pd.DatetimeIndex(frame.index, name="date").as_unit("ns")
        frames[dataset.name if len(dataset.symbols) == 1 else symbol] = frame
    return frames, target


def from_datasets(loaded: list[Dataset], value_col: str | None, *, name: str, covariates: tuple[Covariate, ...],
                   missing: str, resolve: Callable[[str], pd.Series],
                   extra: Callable[[str, pd.DataFrame], pd.DataFrame] | None = None) -> Panel:
    frames: dict[str, pd.DataFrame] = {}
    targets: dict[str, str] = {}
    calendars: dict[str, str | None] = {}
    freqs: dict[str, str] = {}
    notes: list[str] = []
    for dataset in loaded:
        found, target = _frames_of(dataset, value_col)
        for symbol, frame in found.items():
            frames[symbol] = extra(symbol, frame) if extra else frame
            targets[symbol], calendars[symbol], freqs[symbol] = target, dataset.calendar, dataset.freq
        notes += [f"{dataset.name}: {n}" if len(loaded) > 1 else n for n in dataset.notes]
    freq = one_frequency(freqs, "the series of a panel")
    return assemble(frames, targets, freq, calendars, name=name, notes=notes, covariates=covariates,
                     missing=missing, resolve=resolve)


def cached(read: Callable[[str], pd.Series]) -> Callable[[str], pd.Series]:
    seen: dict[str, pd.Series] = {}

    def resolve(name: str) -> pd.Series:
        if name not in seen:
            seen[name] = read(name)
        return seen[name]

    return resolve
