"""`Panel`: many series and many columns in one contiguous buffer, the shape every model sees.

A single series is a panel of one. Rows of all series are stacked in one ``values (N, F)`` float64 buffer,
series ``s`` holding rows ``offsets[s]:offsets[s + 1]``; ``dates (N,)`` dates every row. Column 0 is the
target, the others are past-observed covariates (known at their row's date, never later). Windows are
index gathers over this buffer (`hpcast.forecast.panel_windows.PanelWindows`): nothing materialises
every window, and no window crosses a series boundary.

Invariants, checked when a panel is built (code downstream never re-checks them): a 2-D finite float64
buffer; offsets from 0 to N, each series at least one row; dates strictly increasing within each series;
unique symbol names; one calendar per series (a daily series' exchange calendar, ``None`` for periodic
series, which continue their own anchor); a known frequency.

Legend: N rows of all series, F columns, S series.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hpcast.data.calendars import resolve_calendar
from hpcast.data.frame import season_length
from hpcast.errors import DataError

if TYPE_CHECKING:
    from hpcast.data.frame import Dataset

__all__ = ["Panel"]


@dataclass(frozen=True, eq=False)
class Panel:
    """Series stacked in one buffer (module docstring). Build with `from_series`, `from_dataset`,
    `from_frames` or `hpcast.inputs.load_panel`; never mutate the arrays (views are shared).

    Example:
        >>> from hpcast.data import load_bundled
        >>> p = Panel.from_dataset(load_bundled("air_passengers"))
        >>> p.symbols, p.values.shape
        (('air_passengers',), (144, 1))
    """

    values: np.ndarray
    offsets: np.ndarray
    dates: np.ndarray
    symbols: tuple[str, ...]
    columns: tuple[str, ...]
    freq: str
    calendars: tuple[str | None, ...]
    name: str = "panel"
    notes: tuple[str, ...] = field(default=())
    known_future: tuple[str, ...] = field(default=())  # features computed from dates over the horizon ("calendar")

    def __post_init__(self) -> None:
        values, offsets, dates = self.values, self.offsets, self.dates
        if not isinstance(values, np.ndarray) or values.ndim != 2 or values.dtype != np.float64:
            raise DataError(f"{self.name}: values must be a 2-D float64 array (N, F), got "
                            f"{getattr(values, 'dtype', type(values))} of shape {getattr(values, 'shape', '?')}")
        n, width = values.shape
        if len(self.columns) != width or len(set(self.columns)) != width:
            raise DataError(f"{self.name}: columns ({list(self.columns)}) must name the {width} value columns, "
                            "each once")
        if offsets.ndim != 1 or len(offsets) != len(self.symbols) + 1 or len(self.symbols) < 1:
            raise DataError(f"{self.name}: offsets must hold one entry per series plus one "
                            f"({len(self.symbols) + 1}), got {len(offsets)}")
        if offsets[0] != 0 or offsets[-1] != n or (np.diff(offsets) < 1).any():
            raise DataError(f"{self.name}: offsets must rise from 0 to {n} rows, each series at least one row")
        if len(set(self.symbols)) != len(self.symbols):
            raise DataError(f"{self.name}: symbols must be unique, got {list(self.symbols)}")
        if len(self.calendars) != len(self.symbols):
            raise DataError(f"{self.name}: calendars must give one per series ({len(self.symbols)}), "
                            f"got {len(self.calendars)}")
        season_length(self.freq)
        if dates.shape != (n,) or dates.dtype != np.dtype("datetime64[ns]"):
            raise DataError(f"{self.name}: dates must be datetime64[ns] of shape ({n},), got {dates.dtype} "
                            f"of shape {dates.shape}")
        if not np.isfinite(values).all():
            series, column = np.argwhere(~np.isfinite(values))[0]
            where = self._locate(int(series))
            raise DataError(f"{self.name}: column {self.columns[column]!r} of {where} has a missing or infinite "
                            "value (choose a --missing policy or drop the column)")
        steps = np.diff(dates.astype(np.int64))
        inside = np.ones(max(n - 1, 0), dtype=bool)
        inside[offsets[1:-1] - 1] = False  # a series boundary may go back in time
        bad = np.flatnonzero(inside & (steps <= 0))
        if len(bad):
            raise DataError(f"{self.name}: dates must be strictly increasing within each series; "
                            f"{self._locate(int(bad[0]) + 1)} is not")

    def _locate(self, row: int) -> str:
        s = int(np.searchsorted(self.offsets, row, side="right")) - 1
        date = pd.Timestamp(self.dates[row]).date()
        return f"series {self.symbols[s]!r} at {date}"

    # -- building ----------------------------------------------------------------------------------------
    @classmethod
    def from_frames(cls, frames: dict[str, pd.DataFrame], freq: str, calendars: dict[str, str | None] | None = None,
                    *, name: str = "panel", notes: Sequence[str] = (), target: str | None = None) -> Panel:
        """One panel from per-symbol frames indexed by date, all with the same value columns (the
        ``target`` first: default the first column)."""
        if not frames:
            raise DataError(f"{name}: no series given")
        first = next(iter(frames.values()))
        columns = list(first.columns)
        target = target or columns[0]
        if target not in columns:
            raise DataError(f"{name}: target ({target!r}) must be one of {columns}")
        columns = [target, *(c for c in columns if c != target)]
        for symbol, frame in frames.items():
            if sorted(frame.columns) != sorted(columns):
                raise DataError(f"{name}: series {symbol!r} has columns {list(frame.columns)}; every series "
                                f"must have {columns}")
        lengths = [len(frame) for frame in frames.values()]
        values = np.empty((sum(lengths), len(columns)), dtype=np.float64)
        dates = np.empty(sum(lengths), dtype="datetime64[ns]")
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        for s, frame in enumerate(frames.values()):
            rows = slice(offsets[s], offsets[s + 1])
            values[rows] = frame[columns].to_numpy(dtype=np.float64)
            dates[rows] = pd.DatetimeIndex(frame.index).as_unit("ns").to_numpy()
        calendars = calendars or {}
        return cls(values, offsets, dates, tuple(frames), tuple(columns), freq,
                   tuple(calendars.get(symbol) for symbol in frames), name=name, notes=tuple(notes))

    @classmethod
    def from_series(cls, series: pd.Series, freq: str, calendar: str | None = None, *,
                    symbol: str | None = None) -> Panel:
        """A panel of one series (float values indexed by increasing dates)."""
        symbol = symbol or str(series.name or "series")
        frame = series.to_frame(name=str(series.name or "value"))
        return cls.from_frames({symbol: frame}, freq, {symbol: resolve_calendar(calendar, freq)}, name=symbol)

    @classmethod
    def from_dataset(cls, dataset: Dataset, column: str | None = None) -> Panel:
        """Every symbol of a `Dataset`, its ``column`` (default its target) as the panel's target."""
        column = column or dataset.target
        frames = {}
        for symbol in dataset.symbols:
            series = dataset.series(column, symbol)
            frames[dataset.name if len(dataset.symbols) == 1 else symbol] = series.to_frame(column)
        return cls.from_frames(frames, dataset.freq, dict.fromkeys(frames, dataset.calendar), name=dataset.name,
                               notes=dataset.notes)

    # -- reading -----------------------------------------------------------------------------------------
    @property
    def n_series(self) -> int:
        return len(self.symbols)

    @property
    def target(self) -> str:
        return self.columns[0]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def position(self, symbol: str) -> int:
        if symbol not in self.symbols:
            raise DataError(f"symbol ({symbol!r}) must be one of {list(self.symbols)}")
        return self.symbols.index(symbol)

    def rows(self, symbol: str | int) -> slice:
        s = symbol if isinstance(symbol, int) else self.position(symbol)
        return slice(int(self.offsets[s]), int(self.offsets[s + 1]))

    def index(self, symbol: str | int) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.dates[self.rows(symbol)], name="date")

    def series(self, symbol: str | int = 0, column: str | None = None) -> pd.Series:
        """One column (default the target) of one series, indexed by date."""
        column = column or self.target
        if column not in self.columns:
            raise DataError(f"column ({column!r}) must be one of {list(self.columns)}")
        rows = self.rows(symbol)
        return pd.Series(self.values[rows, self.columns.index(column)], index=self.index(symbol), name=column)

    def frame(self, symbol: str | int = 0) -> pd.DataFrame:
        """Every column of one series, indexed by date."""
        rows = self.rows(symbol)
        return pd.DataFrame(self.values[rows], index=self.index(symbol), columns=list(self.columns))

    def __iter__(self) -> Iterator[str]:
        return iter(self.symbols)

    def to_long(self) -> pd.DataFrame:
        """The long frame (``unique_id, ds`` and the value columns) the Nixtla convention uses."""
        frame = pd.DataFrame(self.values, columns=list(self.columns))
        frame.insert(0, "ds", self.dates)
        frame.insert(0, "unique_id", np.repeat(np.array(self.symbols, dtype=object), self.lengths))
        return frame

    def fingerprint(self) -> str:
        """SHA-256 of symbols, columns, dates and values: same panel in, same fingerprint out."""
        digest = hashlib.sha256()
        digest.update("\x1f".join((*self.symbols, "\x1e", *self.columns)).encode())
        digest.update(self.offsets.astype(np.int64).tobytes())
        digest.update(self.dates.astype(np.int64).tobytes())
        digest.update(np.ascontiguousarray(self.values).tobytes())
        return digest.hexdigest()

    # -- deriving ----------------------------------------------------------------------------------------
    def _take(self, keep: np.ndarray, notes: Sequence[str] = ()) -> Panel:
        """The rows where ``keep (N,)`` is true; series left with no row are dropped."""
        counts = np.add.reduceat(keep.astype(np.int64), self.offsets[:-1])  # every series has a row
        alive = counts > 0
        if not alive.any():
            raise DataError(f"{self.name}: no rows left")
        offsets = np.concatenate([[0], np.cumsum(counts[alive])]).astype(np.int64)
        return dataclasses.replace(
            self, values=np.ascontiguousarray(self.values[keep]), dates=self.dates[keep], offsets=offsets,
            symbols=tuple(s for s, a in zip(self.symbols, alive, strict=True) if a),
            calendars=tuple(c for c, a in zip(self.calendars, alive, strict=True) if a),
            notes=(*self.notes, *notes))

    def until(self, date: pd.Timestamp | str) -> Panel:
        """Rows dated on or before ``date`` (a backtest's history at a fold origin)."""
        return self._take(self.dates <= np.datetime64(pd.Timestamp(date), "ns"))

    def select(self, symbols: Sequence[str]) -> Panel:
        """The named series, in the order given."""
        parts = [self.rows(symbol) for symbol in symbols]
        keep = np.concatenate([np.arange(p.start, p.stop) for p in parts])
        offsets = np.concatenate([[0], np.cumsum([p.stop - p.start for p in parts])]).astype(np.int64)
        return dataclasses.replace(self, values=np.ascontiguousarray(self.values[keep]), dates=self.dates[keep],
                                   offsets=offsets, symbols=tuple(symbols),
                                   calendars=tuple(self.calendars[self.position(s)] for s in symbols))

    def with_columns(self, names: Sequence[str], values: np.ndarray) -> Panel:
        """This panel with covariate columns ``values (N, len(names))`` appended, row for row."""
        if values.shape != (len(self.dates), len(names)):
            raise DataError(f"{self.name}: new columns {list(names)} must have shape "
                            f"({len(self.dates)}, {len(names)}), got {values.shape}")
        clash = sorted(set(names) & set(self.columns))
        if clash:
            raise DataError(f"{self.name}: column(s) {clash} already exist")
        return dataclasses.replace(self, values=np.ascontiguousarray(np.hstack([self.values, values])),
                                   columns=(*self.columns, *names))

    def target_only(self) -> Panel:
        return dataclasses.replace(self, values=np.ascontiguousarray(self.values[:, :1]), columns=self.columns[:1],
                                   known_future=())
