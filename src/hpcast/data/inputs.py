"""Many series as one `Panel`: bundled datasets, a long CSV file, feature-store symbols, or one series.

A long CSV file follows Nixtla's convention: one row per series and date, an id column (``unique_id``), a
date column (``ds``), the target (``y``) and any numeric columns to use as covariates. Its cells are read
by the rules `load_csv` follows (dates never guessed; blank, NA, N/A, NaN, null, #N/A and ``.`` are missing
and follow the ``missing`` policy); errors name the file, the row, the column and the rule. Rows of a
series may come in any order (they are sorted, with a note); the same series and date twice is an error
naming both rows. Series may span different dates, but all must share one frequency (a series of fewer
than 3 rows shows none and takes the others').

Covariates (``covariates=``, see `hpcast.features.covariates`) are added series by series after loading;
a store source reads the series they need (``ret:NAME``, ``macro:*``) from the store as of the same time.

Example:
    >>> panel = load_panel(datasets="sp500,nasdaq", covariates="volume,calendar")  # doctest: +SKIP
    >>> panel.symbols, panel.columns, panel.known_future                            # doctest: +SKIP
    (('sp500', 'nasdaq'), ('adj_close', 'volume'), ('calendar',))
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hpcast.data.calendars import find_gaps, resolve_calendar
from hpcast.data.csv import find_column, first_problem, read_text_table, read_values, repair_missing
from hpcast.data.dates import DateOrderError, read_dates
from hpcast.data.frame import FREQUENCIES, DataError, Dataset, infer_frequency
from hpcast.data.panel import Panel

if TYPE_CHECKING:
    from hpcast.features.covariates import Covariate

__all__ = ["load_long_csv", "load_panel"]

Names = str | Sequence[str]


def _names(text: Names | None, flag: str) -> list[str]:
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text or ())]
    names = [n for n in names if n]
    if not names:
        raise DataError(f"{flag} ({text!r}) must name at least one series")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"{flag} names {', '.join(twice)} more than once")
    return names


def _parse(covariates: Names | None, columns: Sequence[str] = ()) -> tuple[Covariate, ...]:
    from hpcast.features.covariates import parse_covariates  # it imports hpcast.data: load it on use

    return parse_covariates(covariates, columns)


def _one_frequency(freqs: dict[str, str], what: str) -> str:
    """The frequency every series shares; else an error saying which series have which."""
    groups: dict[str, list[str]] = {}
    for symbol, freq in freqs.items():
        groups.setdefault(freq, []).append(symbol)
    if len(groups) > 1:
        listed = "; ".join(f"{', '.join(symbols)}: {freq} ({FREQUENCIES[freq][0]})" for freq, symbols in groups.items())
        raise DataError(f"{what} must share one frequency, got {listed}")
    return next(iter(groups))


def _assemble(frames: dict[str, pd.DataFrame], targets: dict[str, str], freq: str,
              calendars: dict[str, str | None], *, name: str, notes: Sequence[str],
              covariates: tuple[Covariate, ...], missing: str, resolve: Callable[[str], pd.Series]) -> Panel:
    """Raw per-series frames (indexed by date) -> one panel: each target, then the covariates."""
    from hpcast.features.covariates import add_covariates

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


# -- long CSV files -----------------------------------------------------------------------------------------
def _duplicates(ids: pd.Series, dates: pd.Series, rows: pd.Series, id_name: str,
                date_name: str) -> list[tuple[int, str]]:
    keys = pd.DataFrame({"id": ids, "date": dates})
    twice = keys.duplicated(keep="first")
    if not twice.any():
        return []
    first = rows.groupby([ids, dates], sort=False).transform("first")
    return [(int(row), f"duplicate ({id_name}, {date_name}) ({symbol!r}, {stamp.date()}) (first seen on row "
                       f"{int(seen)})")
            for row, symbol, stamp, seen in zip(rows[twice], ids[twice], dates[twice], first[twice], strict=True)]


def _series_frames(data: pd.DataFrame, ids: pd.Series, dates: pd.Series, target: str, missing: str,
                   path: Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """One frame per id (ids in sorted order, as a shuffled export gives the same panel), sorted by date, target
    holes repaired by ``missing``; notes say what was done."""
    frames, notes = {}, []
    for symbol, part in data.groupby(ids, sort=True):
        stamps = dates[part.index]
        if not stamps.is_monotonic_increasing:
            notes.append(f"{symbol}: rows sorted by date (the file lists them out of order)")
        order = np.argsort(stamps.to_numpy(), kind="stable")
        part = part.iloc[order].set_axis(pd.DatetimeIndex(stamps.iloc[order], name="date").as_unit("ns"))
        values, keep, note = repair_missing(part[target], missing)
        part = part.assign(**{target: values})[keep.to_numpy()]
        notes += [f"{symbol}: {note}"] if note else []
        if part.empty:
            raise DataError(f"{path}: series {symbol!r} has no row with a value in column {target!r}")
        frames[str(symbol)] = part
    return frames, notes


def load_long_csv(
    path: str | Path,
    *,
    id_col: str = "unique_id",
    date_col: str = "ds",
    value_col: str = "y",
    covariates: Names = (),
    date_format: str | None = None,
    missing: str = "error",
    calendar: str | None = None,
    require_positive: bool = True,
) -> Panel:
    """Load a long CSV file (one row per series and date) as a panel.

    Args:
        path: the CSV file (comma separated, header in the first row; spreadsheet row numbers in errors).
        id_col, date_col, value_col: the series id, date and target columns (any case).
        covariates: names as in `hpcast.features.covariates.parse_covariates`; the file's other columns
            are valid names too (numeric, read with the same missing-value rules).
        date_format: as `load_csv` takes it (a strptime format, ``dayfirst`` or ``monthfirst``).
        missing: ``error``, ``drop`` or ``ffill``, for the target's and the covariates' missing cells
            (filled only from the same series' row above).
        calendar: the calendar of daily series (a name in `hpcast.data.calendars.CALENDARS`).
        require_positive: reject target values <= 0 (log returns need them).

    Raises:
        DataError: one line naming the file, the row, the column and the rule broken.

    Example:
        >>> panel = load_long_csv("sales.csv", covariates="promo,calendar")  # doctest: +SKIP
    """
    path = Path(path)
    raw = read_text_table(path, missing)
    columns = [str(c) for c in raw.columns]
    id_name = find_column(columns, id_col, "id", path)
    date_name = find_column(columns, date_col, "date", path)
    value_name = find_column(columns, value_col, "value", path)
    others = [c for c in columns if c not in (id_name, date_name, value_name)]
    specs = _parse(covariates, others)
    extra = [c.argument for c in specs if c.kind == "COLUMN"]
    if any(c.kind == "volume" for c in specs):
        extra += [c for c in others if c.strip().lower() == "volume" and c not in extra]

    rows = pd.Series(np.arange(2, len(raw) + 2), index=raw.index)
    ids = raw[id_name].str.strip()
    problems = [(int(row), f"missing id in column {id_name!r}") for row in rows[ids == ""]]
    try:
        dates, date_problems = read_dates(raw[date_name].str.strip(), date_format, column=date_name, rows=rows)
    except DateOrderError as error:
        raise DataError(f"{path}: {error}") from error
    problems += [(int(rows[label]), rule) for label, rule in date_problems.dropna().items()]
    data = pd.DataFrame(index=raw.index)
    for column, positive in ((value_name, require_positive), *((c, False) for c in extra)):
        data[column], more = read_values(raw[column].str.strip(), rows, column, missing, positive)
        problems += more
    first_problem(path, problems)
    first_problem(path, _duplicates(ids, dates, rows, id_name, date_name))

    frames, notes = _series_frames(data, ids, dates, value_name, missing, path)
    freqs = {}
    for symbol, frame in frames.items():
        if len(frame) >= 3:  # a shorter series shows no frequency: it takes the others'
            try:
                freqs[symbol] = infer_frequency(frame.index)
            except DataError as error:
                raise DataError(f"{path}: series {symbol!r}: {error}") from error
    if not freqs:
        raise DataError(f"{path}: every series has fewer than 3 rows; at least one needs 3 to tell the frequency")
    freq = _one_frequency(freqs, f"{path}: the series")
    resolved = resolve_calendar(calendar, freq)
    notes += [f"{symbol}: {note}" for symbol, frame in frames.items()
              if (note := find_gaps(frame.index, freq, resolved).note())]
    from hpcast.features.covariates import bundled_series

    return _assemble(frames, dict.fromkeys(frames, value_name), freq, dict.fromkeys(frames, resolved),
                     name=path.stem, notes=notes, covariates=specs, missing=missing, resolve=bundled_series)


def _is_long(path: str | Path, id_col: str | None) -> bool:
    """Whether a CSV file is long: ``id_col`` was given, or the header has a ``unique_id`` column."""
    if id_col:
        return True
    try:
        header = pd.read_csv(path, nrows=0)
    except (OSError, ValueError, UnicodeDecodeError):
        return False  # load_csv says what is wrong with it
    return any(str(c).strip().lower() == "unique_id" for c in header.columns)


# -- datasets and store symbols -----------------------------------------------------------------------------
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


def _from_datasets(loaded: list[Dataset], value_col: str | None, *, name: str, covariates: tuple[Covariate, ...],
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
    freq = _one_frequency(freqs, "the series of a panel")
    return _assemble(frames, targets, freq, calendars, name=name, notes=notes, covariates=covariates,
                     missing=missing, resolve=resolve)


def _cached(read: Callable[[str], pd.Series]) -> Callable[[str], pd.Series]:
    seen: dict[str, pd.Series] = {}

    def resolve(name: str) -> pd.Series:
        if name not in seen:
            seen[name] = read(name)
        return seen[name]

    return resolve


def _from_store(symbols: list[str], store: Any, as_of: datetime | str | None, value_col: str | None,
                covariates: tuple[Covariate, ...], missing: str) -> Panel:
    from hpcast.store import FeatureStore

    feature_store = store if isinstance(store, FeatureStore) else FeatureStore(store)
    loaded = []
    for symbol in symbols:
        dataset = feature_store.dataset(symbol, as_of=as_of)
        gaps = [note for s in dataset.symbols if (note := dataset.gaps(s).note())]
        loaded.append(dataclasses.replace(dataset, notes=(*dataset.notes, *gaps)))

    def with_volume(symbol: str, frame: pd.DataFrame) -> pd.DataFrame:
        """The store's dataset keeps close and adj_close only: read volume when it is asked for."""
        if not any(c.kind == "volume" for c in covariates) or "adj_close" not in frame:
            return frame
        volume = feature_store.read(symbol, as_of=as_of, columns=["volume"]).set_index("date")["volume"]
        return frame.assign(volume=volume.set_axis(pd.DatetimeIndex(volume.index).as_unit("ns")).reindex(frame.index))

    resolve = _cached(lambda name: feature_store.dataset(name, as_of=as_of).series())
    return _from_datasets(loaded, value_col, name=",".join(symbols), covariates=covariates, missing=missing,
                          resolve=resolve, extra=with_volume)


def load_panel(
    *,
    datasets: Names | None = None,
    csv: str | Path | None = None,
    symbols: Names | None = None,
    from_store: bool = False,
    store: Any = None,
    as_of: datetime | str | None = None,
    dataset: str | None = None,
    ticker: str | None = None,
    start: str | None = None,
    end: str | None = None,
    id_col: str | None = None,
    date_col: str | None = None,
    value_col: str | None = None,
    covariates: Names = (),
    missing: str = "error",
    date_format: str | None = None,
    calendar: str | None = None,
) -> Panel:
    """Resolve the data flags into one `Panel`, from exactly one source.

    Sources: ``datasets`` (bundled names, ``"sp500,nasdaq"``; each keeps its own calendar, all must share a
    frequency); ``csv``: a long file (``id_col`` given, or a ``unique_id`` column; ``date_col`` / ``value_col``
    default ``ds`` / ``y``, see `load_long_csv`), else a one-series file as `load_csv` reads it; ``symbols``:
    with ``from_store`` the feature store's (``store``: a URL or a `FeatureStore`; ``as_of``: what it held
    then), else bundled names like ``datasets``; ``dataset`` / ``ticker`` (``start``, ``end``): one series as
    `load_data` gives it. The target is ``value_col`` or each dataset's own (``adj_close`` for prices);
    series whose targets are named differently share the name ``y``.

    Args:
        covariates: names as in `hpcast.features.covariates.parse_covariates` (``"volume,ret:nasdaq,calendar"``).
        missing: the ``missing`` policy of a CSV file's cells and of every covariate's holes.
        date_format: how a CSV file's dates are written (`load_csv`'s).
        calendar: overrides the calendar of daily series.

    Raises:
        DataError: no source or several, a flag its source does not take, or a rule the data break.

    Example:
        >>> load_panel(datasets="sp500,nasdaq").symbols
        ('sp500', 'nasdaq')
        >>> load_panel(dataset="air_passengers").values.shape
        (144, 1)
    """
    sources = (("--datasets", datasets), ("--csv", csv), ("--symbols", symbols), ("--dataset", dataset),
               ("--ticker", ticker))
    given = [flag for flag, value in sources if value]
    if len(given) != 1:
        raise DataError(f"give exactly one of --datasets, --csv, --symbols, --dataset or --ticker "
                        f"(got {', '.join(given) or 'none'})")
    if from_store and not symbols:
        raise DataError(f"--from-store reads --symbols: name them, as in --symbols sp500,gold (got {given[0]})")
    if as_of is not None and not from_store:
        raise DataError("--as-of reads the feature store as it was then: give it with --symbols and --from-store")
    wrong = [flag for flag, used in (("--date-format", date_format is not None), ("--id-col", bool(id_col)))
             if used and not csv]
    if wrong:
        raise DataError(f"{', '.join(wrong)} {'applies' if len(wrong) == 1 else 'apply'} to --csv files only "
                        f"(got {given[0]})")
    if csv and _is_long(csv, id_col):
        return load_long_csv(csv, id_col=id_col or "unique_id", date_col=date_col or "ds", value_col=value_col or "y",
                             covariates=covariates, date_format=date_format, missing=missing, calendar=calendar)
    specs = _parse(covariates)
    if symbols and from_store:
        return _from_store(_names(symbols, "--symbols"), store, as_of, value_col, specs, missing)
    from hpcast.data import load_data  # the package imports this module
    from hpcast.features.covariates import bundled_series

    if datasets or symbols:
        names = _names(datasets or symbols, "--datasets" if datasets else "--symbols")
        loaded = [load_data(n, calendar=calendar) for n in names]
        return _from_datasets(loaded, value_col, name=",".join(names), covariates=specs, missing=missing,
                              resolve=_cached(bundled_series))
    if csv:
        one = load_data(csv=csv, date_col=date_col, value_col=value_col, date_format=date_format, missing=missing,
                        calendar=calendar)
        value_col = None  # load_csv names its value column 'value'
    else:
        one = load_data(dataset, ticker=ticker, start=start, end=end, calendar=calendar)
    return _from_datasets([one], value_col, name=one.name, covariates=specs, missing=missing,
                          resolve=_cached(bundled_series))
