"""Past-observed covariates: pure transforms from a series' raw frame (and other series) to columns aligned
with the target's dates, and the rules for the values they lack.

The names (`COVARIATES`, kept in `hpcast.features.covariate_kinds`) become the panel's column names as
written: ``volume``, ``ret:nasdaq``, ``ma_ratio:50``, ``macro:cpi_yoy``, ``macro:rate_3m``, a long CSV's own
column names, and ``calendar``, which adds no column: it marks the panel's known-future calendar features
(`hpcast.features.calendar_features`, computed from dates over the horizon too).

No lookahead: a value dated d comes from raw values dated d or earlier, and a macro value only once it
was published: CPI for month M counts from the end of M + `hpcast.data.bundled.PUBLICATION_LAG`; a
Treasury yield observed on day t from the next business day (one row later on the same calendar). The
latest published value is carried forward to each target date.

Values a covariate lacks, per series (`add_covariates`): a covariate that starts later than the target (the
first N - 1 rows of ``ma_ratio:N``, a ``ret:NAME`` whose NAME begins later) trims the series' leading rows,
with a note; a hole after that follows the target's ``missing`` policy: ``error`` names the covariate, the
series and the first date; ``drop`` drops the row; ``ffill`` fills it from the row above.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hpcast.data.csv import MISSING_POLICIES
from hpcast.errors import DataError
from hpcast.features.covariate_kinds import COVARIATES

if TYPE_CHECKING:
    from hpcast.data.frame import Dataset

__all__ = ["COVARIATES", "CPI_SOURCE", "RATE_SOURCE", "Covariate", "add_covariates", "available_covariates",
           "bundled_series", "cpi_yoy_covariate", "ma_ratio_covariate", "parse_covariates", "published_covariate",
           "rate_covariate", "return_covariate", "volume_covariate"]

CPI_SOURCE = "core_cpi"  # monthly, 1957-2018: spans every bundled price series (quarterly `cpi` ends in 2009)
RATE_SOURCE = "treasury_3m"
_FIXED = ("volume", "macro:cpi_yoy", "macro:rate_3m", "calendar")
_STALE = {"macro:cpi_yoy": pd.Timedelta(days=31), "macro:rate_3m": pd.Timedelta(days=7)}  # one period's wait

Resolve = Callable[[str], pd.Series]


@dataclass(frozen=True)
class Covariate:
    """One parsed covariate: ``name`` as written (its panel column), ``kind`` a key of `COVARIATES`, and
    ``argument`` the NAME, N or COLUMN it fills in (``""`` for the others)."""

    name: str
    kind: str
    argument: str = ""

    @property
    def known_future(self) -> bool:
        return self.kind == "calendar"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _parse_one(token: str, columns: Sequence[str]) -> Covariate:
    if token in _FIXED:
        return Covariate(token, token)
    head, _, argument = token.partition(":")
    if head == "ret" and argument.strip():
        return Covariate(f"ret:{argument.strip()}", "ret:NAME", argument.strip())
    if head == "ma_ratio":
        if not (argument.strip().isdigit() and int(argument) >= 2):
            raise DataError(f"covariate ({token!r}): N ({argument!r}) must be a whole number of rows >= 2, "
                            "as in ma_ratio:50")
        return Covariate(f"ma_ratio:{int(argument)}", "ma_ratio:N", str(int(argument)))
    if token in columns:
        return Covariate(token, "COLUMN", token)
    kinds = ", ".join(kind for kind in COVARIATES if kind != "COLUMN")
    own = (f", or a column of the file ({', '.join(columns)})" if columns
           else ", or (long CSV files) one of the file's numeric columns")
    raise DataError(f"covariate ({token!r}) must be one of {kinds}{own}")


def parse_covariates(text: str | Sequence[str] | None, columns: Sequence[str] = ()) -> tuple[Covariate, ...]:
    """Covariates from a comma-separated list (or a sequence) of names; ``columns`` are the extra names a long
    CSV file offers.

    Raises:
        DataError: an unknown name (the message lists the valid ones), a bad N, or a name given twice.

    Example:
        >>> [c.name for c in parse_covariates("volume,ret:nasdaq,ma_ratio:50,macro:cpi_yoy,calendar")]
        ['volume', 'ret:nasdaq', 'ma_ratio:50', 'macro:cpi_yoy', 'calendar']
    """
    tokens = text.split(",") if isinstance(text, str) else list(text or ())
    parsed: list[Covariate] = []
    for token in (str(t).strip() for t in tokens):
        if not token:
            continue
        covariate = _parse_one(token, columns)
        if covariate.name in {c.name for c in parsed}:
            raise DataError(f"covariate ({token!r}) is given twice")
        parsed.append(covariate)
    return tuple(parsed)


# -- one covariate ------------------------------------------------------------------------------------------
def volume_covariate(frame: pd.DataFrame, *, symbol: str) -> pd.Series:
    """``log(1 + volume)`` of the frame's own volume column (any case)."""
    column = next((c for c in frame.columns if str(c).lower() == "volume"), None)
    if column is None or frame[column].isna().all():
        raise DataError(f"{symbol}: covariate 'volume' needs a volume column; {symbol} has "
                        f"{', '.join(map(str, frame.columns))}")
    volume = frame[column].astype(np.float64)
    if (volume < 0).any():
        raise DataError(f"{symbol}: covariate 'volume': volume {volume.min():g} on "
                        f"{volume.idxmin().date()} must be >= 0")
    return np.log1p(volume)


def return_covariate(dates: pd.DatetimeIndex, other: pd.Series, *, name: str) -> pd.Series:
    """``log(p_t / p_t-1)`` of ``other`` over its own consecutive rows, on the same ``dates`` (NaN where it
    lacks one)."""
    other = other.dropna()
    if (other <= 0).any():
        raise DataError(f"covariate 'ret:{name}': {name} has {other[other <= 0].iloc[0]:g} on "
                        f"{other.index[other <= 0][0].date()}; a log return needs values > 0")
    return np.log(other).diff().reindex(dates)


def ma_ratio_covariate(target: pd.Series, window: int) -> pd.Series:
    """``target / mean(last window targets, this row included) - 1``: trailing, NaN over the first rows."""
    return target / target.rolling(window).mean() - 1.0


def published_covariate(dates: pd.DatetimeIndex, values: pd.Series, published: pd.DatetimeIndex) -> pd.Series:
    """On each of ``dates``, the latest of ``values`` whose ``published`` stamp is on or before it (NaN
    before the first)."""
    keep = values.notna().to_numpy()
    stamps = pd.DatetimeIndex(published[keep]).as_unit("ns").asi8
    if (np.diff(stamps) < 0).any():
        raise DataError("publication dates must be in increasing order")
    position = np.searchsorted(stamps, pd.DatetimeIndex(dates).as_unit("ns").asi8, side="right") - 1
    known = values.to_numpy(dtype=np.float64)[keep]
    return pd.Series(np.where(position >= 0, known[np.maximum(position, 0)], np.nan), index=dates)


def cpi_publication(months: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """When CPI for each month (dated on its first day) is published: the month's end + the lag."""
    from hpcast.data.bundled import PUBLICATION_LAG

    return months + pd.DateOffset(months=1) + PUBLICATION_LAG


def cpi_yoy_covariate(dates: pd.DatetimeIndex, cpi: pd.Series) -> pd.Series:
    """Year-over-year change of monthly ``cpi`` (dated on month starts), as published by each date."""
    if not cpi.index.is_month_start.all():
        raise DataError(f"covariate 'macro:cpi_yoy' needs monthly CPI dated on month starts, got "
                        f"{cpi.index[~cpi.index.is_month_start][0].date()}")
    year_before = cpi.reindex(cpi.index - pd.DateOffset(years=1)).to_numpy()
    return published_covariate(dates, cpi / year_before - 1.0, cpi_publication(cpi.index))


def rate_publication(days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """The next business day after each observation day (a yield is published the day after)."""
    return pd.DatetimeIndex(np.busday_offset(days.to_numpy().astype("datetime64[D]"), 1, roll="forward"))


def rate_covariate(dates: pd.DatetimeIndex, rate: pd.Series) -> pd.Series:
    """The yield as published by each date: observed one business day earlier or before."""
    return published_covariate(dates, rate, rate_publication(pd.DatetimeIndex(rate.index)))


def bundled_series(name: str) -> pd.Series:
    """The target of bundled dataset ``name``: what ``ret:NAME`` and ``macro:*`` read by default."""
    from hpcast.data.bundled import load_bundled

    return load_bundled(name).series()


def _other(covariate: Covariate, name: str, resolve: Resolve) -> pd.Series:
    try:
        return resolve(name)
    except ValueError as error:  # DataError, StoreError
        raise DataError(f"covariate {covariate.name!r}: {error}") from error


def _stale_note(covariate: Covariate, source: str, other: pd.Series, dates: pd.DatetimeIndex,
                symbol: str) -> str | None:
    published = (cpi_publication if covariate.kind == "macro:cpi_yoy" else rate_publication)(
        pd.DatetimeIndex(other.dropna().index[-1:]))
    stale = dates > published[0] + _STALE[covariate.kind]
    if not stale.any():
        return None
    return (f"{symbol}: {covariate.name}: {source} ends {other.dropna().index[-1].date()}; its last value is "
            f"carried over the last {_plural(int(stale.sum()), 'row')}")


def _compute(covariate: Covariate, frame: pd.DataFrame, target: str, symbol: str,
             resolve: Resolve) -> tuple[pd.Series, str | None]:
    dates = pd.DatetimeIndex(frame.index)
    if covariate.kind == "volume":
        return volume_covariate(frame, symbol=symbol), None
    if covariate.kind == "COLUMN":
        return frame[covariate.argument].astype(np.float64), None
    if covariate.kind == "ma_ratio:N":
        return ma_ratio_covariate(frame[target], int(covariate.argument)), None
    if covariate.kind == "ret:NAME":
        return return_covariate(dates, _other(covariate, covariate.argument, resolve), name=covariate.argument), None
    source = CPI_SOURCE if covariate.kind == "macro:cpi_yoy" else RATE_SOURCE
    other = _other(covariate, source, resolve)
    values = cpi_yoy_covariate(dates, other) if covariate.kind == "macro:cpi_yoy" else rate_covariate(dates, other)
    return values, _stale_note(covariate, source, other, dates, symbol)


# -- every covariate of one series --------------------------------------------------------------------------
def add_covariates(frame: pd.DataFrame, target: str, covariates: Sequence[Covariate], *, symbol: str,
                   missing: str = "error", resolve: Resolve = bundled_series) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """One series' target followed by its covariate columns, rows trimmed and repaired as the module says.

    Args:
        frame: the series' raw values indexed by increasing dates: ``target`` and any raw columns
            (``volume``, a long CSV's own columns).
        target: the column modelled; ``ma_ratio:N`` is computed from it.
        covariates: from `parse_covariates`; ``calendar`` adds no column.
        symbol: the series' name, for notes and messages.
        missing: ``error``, ``drop`` or ``ffill``, for holes after a covariate starts.
        resolve: name -> that series' target indexed by date, for ``ret:NAME`` and ``macro:*`` (default:
            bundled datasets; a store source passes its as-of reads).

    Returns:
        ``(frame, notes)``: columns ``target`` then one per covariate, and a note per trim, drop or fill.

    Example:
        >>> prices = pd.DataFrame({"close": [1.0, 2.0, 4.0]}, index=pd.bdate_range("2024-01-01", periods=3))
        >>> frame, notes = add_covariates(prices, "close", parse_covariates("ma_ratio:2"), symbol="x")
        >>> frame["ma_ratio:2"].round(4).tolist(), notes
        ([0.3333, 0.3333], ('x: ma_ratio:2 starts 2024-01-02: 1 row trimmed',))
    """
    if missing not in MISSING_POLICIES:
        raise DataError(f"missing ({missing!r}) must be one of {', '.join(MISSING_POLICIES)}")
    notes: list[str] = []
    columns: dict[str, pd.Series] = {}
    for covariate in covariates:
        if covariate.known_future:
            continue
        values, note = _compute(covariate, frame, target, symbol, resolve)
        columns[covariate.name] = values.reindex(frame.index).astype(np.float64)
        notes += [note] if note else []
    result = pd.concat([frame[[target]].astype(np.float64), pd.DataFrame(columns, index=frame.index)], axis=1)
    if not columns:
        return result, ()
    raw = result[list(columns)]
    starts = {}
    for name in columns:
        first = raw[name].first_valid_index()
        if first is None:
            raise DataError(f"{symbol}: covariate {name!r} has no value on any of {symbol}'s dates "
                            f"({frame.index[0].date()} to {frame.index[-1].date()})")
        starts[name] = first
        if trimmed := int((frame.index < first).sum()):
            notes.append(f"{symbol}: {name} starts {first.date()}: {_plural(trimmed, 'row')} trimmed")
    after = np.asarray(frame.index >= max(starts.values()))
    holes = raw[after].isna()
    keep = after.copy()
    if holes.any().any():
        keep, more = _repair(holes, keep, missing, symbol)
        notes += more
    if missing == "ffill":
        result[list(columns)] = raw.ffill()  # only from rows above; leading rows are trimmed below
    if not keep.any():
        raise DataError(f"{symbol}: no row has a value for every covariate ({', '.join(columns)})")
    return result[keep], tuple(notes)


def _repair(holes: pd.DataFrame, keep: np.ndarray, missing: str, symbol: str) -> tuple[np.ndarray, list[str]]:
    """The rows to keep and a note per covariate with holes (``holes``: the rows after every start)."""
    counts = holes.sum()
    if missing == "error":
        first_dates = {name: holes.index[holes[name]][0] for name in holes if counts[name]}
        name = min(first_dates, key=lambda n: first_dates[n])
        raise DataError(f"{symbol}: covariate {name!r} is missing on {first_dates[name].date()} "
                        f"({_plural(int(counts[name]), 'row')} after it starts) (--missing drop or --missing ffill "
                        "loads it anyway)")
    if missing == "drop":
        keep = keep.copy()
        keep[np.flatnonzero(keep)[holes.any(axis=1).to_numpy()]] = False
        return keep, [f"{symbol}: {name}: {_plural(int(n), 'row')} with a missing value dropped (--missing drop)"
                      for name, n in counts.items() if n]
    return keep, [f"{symbol}: {name}: {_plural(int(n), 'row')} filled with the previous row's value (--missing ffill)"
                  for name, n in counts.items() if n]


def available_covariates(dataset: Dataset) -> list[str]:
    """The covariates `load_panel` can add to ``dataset``, in the words of `COVARIATES` (for ``data show``)."""
    from hpcast.data.bundled import BUNDLED

    found = ["volume"] if any(str(c).lower() == "volume" for c in dataset.value_columns) else []
    # a log return needs positive values: the bundled series that reach 0 say so with "--target level"
    others = [name for name, info in BUNDLED.items()
              if info.freq == dataset.freq and name != dataset.name and "--target level" not in info.caveat]
    found += [f"ret:NAME (NAME: {', '.join(others)})"] if others else []
    return [*found, "ma_ratio:N", "macro:cpi_yoy", "macro:rate_3m", "calendar"]
