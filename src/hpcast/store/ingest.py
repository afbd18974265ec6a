"""Filling the store: the asset catalog, backfill of whole histories, and the daily increment.

Each asset has a store symbol, a feature group, a bundled dataset (so everything works offline) and,
where Yahoo Finance carries it, a Yahoo ticker. ``source="bundled"`` reads the packaged files;
``source="yahoo"`` downloads (assets Yahoo does not carry, such as CPI, fall back to the bundled file and
the report says so).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from hpcast._uris import redact
from hpcast.data.bundled import BUNDLED, load_bundled
from hpcast.errors import DataError, StoreError
from hpcast.store.store import FeatureStore, UpsertReport

__all__ = ["ASSETS", "DEFAULT_ASSETS", "Asset", "backfill", "source_rows", "update"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asset:
    """A symbol the store knows how to fill."""

    group: str
    bundled: str
    ticker: str | None = None

    @property
    def freq(self) -> str:
        return BUNDLED[self.bundled].freq

    @property
    def description(self) -> str:
        return BUNDLED[self.bundled].description


ASSETS: dict[str, Asset] = {
    "sp500": Asset("prices", "sp500", "^GSPC"),
    "nasdaq": Asset("prices", "nasdaq", "^IXIC"),
    "gold": Asset("prices", "gold", "GC=F"),
    "bitcoin": Asset("prices", "bitcoin", "BTC-USD"),
    "aapl": Asset("prices", "aapl", "AAPL"),
    "msft": Asset("prices", "msft", "MSFT"),
    "goog": Asset("prices", "goog", "GOOG"),
    "cpi": Asset("macro", "cpi"),
    "core_cpi": Asset("macro", "core_cpi"),
    "inflation": Asset("macro", "inflation"),
    "tbill": Asset("macro", "tbill"),
    "treasury_3m": Asset("macro", "treasury_3m"),
    "treasury_1m": Asset("macro", "treasury_1m"),
}
DEFAULT_ASSETS = ("sp500", "nasdaq", "gold", "bitcoin", "cpi", "core_cpi", "tbill", "treasury_3m")
# Yahoo revises recent bars (late prints, adjusted closes): the daily update re-reads this many days.
REVISION_DAYS = 7
# On a re-read day whose raw close moved by at most this (relative), an adj_close/close ratio that moved by
# more means a dividend or split re-adjusted the whole history (Yahoo rewrites every older adj_close).
BASIS_TOLERANCE = 1e-6


def _asset(name: str) -> Asset:
    if name not in ASSETS:
        raise StoreError(f"asset ({name!r}) must be one of: {', '.join(ASSETS)}")
    return ASSETS[name]


def source_rows(name: str, source: str = "bundled", start: str | date | None = None,
                end: str | date | None = None, *, refresh: bool = False) -> tuple[pd.DataFrame, str]:
    """Rows of asset ``name`` between ``start`` and ``end`` (inclusive) in its group's shape, and their origin.

    ``refresh`` downloads a range even if it is cached (Yahoo only).
    """
    asset = _asset(name)
    if source not in ("bundled", "yahoo"):
        raise StoreError(f"source ({source!r}) must be 'bundled' or 'yahoo'")
    origin = f"bundled {asset.bundled}"
    if source == "yahoo" and asset.ticker:
        from hpcast.data.yahoo import fetch_yahoo

        first = start or "1990-01-01"
        last = pd.Timestamp(end or date.today()) + pd.Timedelta(days=1)  # Yahoo's end is exclusive
        frame = fetch_yahoo(asset.ticker, first, last.date(), refresh=refresh).frame
        origin = f"yahoo {asset.ticker}"
    else:
        if source == "yahoo":
            log.info("%s: Yahoo Finance does not carry it; using the bundled series", name)
            origin += " (Yahoo does not carry it)"
        frame = load_bundled(asset.bundled).frame
    frame = frame.assign(symbol=name)
    if "value" in frame and asset.group == "prices":  # a price series with one column: its close
        frame = frame.rename(columns={"value": "close"}).assign(adj_close=lambda f: f["close"])
    if start is not None:
        frame = frame[frame["date"] >= pd.Timestamp(start)]
    if end is not None:
        frame = frame[frame["date"] <= pd.Timestamp(end)]
    return frame.reset_index(drop=True), origin


def backfill(store: FeatureStore, assets: list[str], *, source: str = "bundled", start: str | None = None,
             end: str | None = None, now: datetime | None = None,
             progress: Callable[[str], None] | None = None) -> list[UpsertReport]:
    """Register ``assets`` and load their history (or ``start``..``end`` of it) into the store."""
    for name in assets:
        _asset(name)
    entries = pd.DataFrame([{"symbol": n, "group": ASSETS[n].group, "description": ASSETS[n].description,
                             "source": source, "freq": ASSETS[n].freq} for n in assets])
    store.register(entries, now=now)
    reports = []
    for name in assets:
        if progress:
            progress(name)
        rows, origin = source_rows(name, source, start, end)
        report = store.upsert(ASSETS[name].group, rows, now=now)
        report.group, report.source = name, origin
        reports.append(report)
    return reports


def update(store: FeatureStore, assets: list[str] | None = None, *, source: str | None = None,
           until: str | date | None = None, now: datetime | None = None,
           progress: Callable[[str], None] | None = None) -> list[UpsertReport]:
    """The daily increment: for each registered asset, rows after its last stored date up to ``until``.

    The last `REVISION_DAYS` days are read again, so a revised bar becomes a new version; unchanged rows
    are not written, which makes re-running a day a no-op. ``source`` defaults to the one each asset
    was backfilled from. An asset whose source fails (e.g. Yahoo unreachable) gets a report with
    ``error`` set, and the other assets are still updated.

    When the re-read days show a new adjustment basis (a dividend or split made Yahoo rewrite every older
    ``adj_close``; see `BASIS_TOLERANCE`), the asset's whole stored span is downloaded again and upserted
    as one commit, so no history mixes two bases; earlier as-of reads still see the old values, and the
    report's ``revision`` says what changed. A changed raw close on a re-read day is a correction of that
    day only.

    Example:
        >>> reports = update(FeatureStore(), ["sp500"], source="yahoo")                # doctest: +SKIP
        >>> print(reports[0].summary())                                                 # doctest: +SKIP
        sp500: adjustment basis changed on 2018-01-26 (adj_close × 0.9971 on the overlap): history re-ingested,
        4,780 rows revised; 4786 rows received, 4786 written, 0 unchanged, 0 rejected (commit 9); ...
    """
    registered = store.symbols()
    if registered.empty:
        raise StoreError(f"the store at {redact(store.url)} is empty: run `hpcast store backfill` first")
    names = assets or [s for s in registered["symbol"] if s in ASSETS]
    unknown = sorted(set(names) - set(registered["symbol"]))
    if unknown:
        raise StoreError(f"asset(s) {unknown} are not in the store: backfill them first")
    sources = dict(zip(registered["symbol"], registered["source"], strict=True))
    reports = []
    for name in names:
        if progress:
            progress(name)
        reports.append(_update_asset(store, name, source or sources[name], until, now))
    return reports


@dataclass(frozen=True)
class _BasisChange:
    """The first re-read day found on a new adjustment basis, and its new / old ``adj_close``."""

    day: pd.Timestamp
    factor: float


def _update_asset(store: FeatureStore, name: str, source: str, until: str | date | None,
                  now: datetime | None) -> UpsertReport:
    """`update` for one asset: the re-read days and new rows, or the whole span again on a new basis."""
    group = _asset(name).group
    stored = store.read(name, group=group, columns=[])  # keys and ingestion times: what a revision replaces
    dates = stored["date"]
    last = dates.max()
    start = None if pd.isna(last) else (last - pd.Timedelta(days=REVISION_DAYS)).date()
    change = None
    try:
        rows, origin = source_rows(name, source, start, until)
        if group == "prices" and start is not None:  # the overlap's values only, not the whole history
            overlap = store.read(name, start, group=group, columns=["close", "adj_close"])
            change = _basis_change(overlap, rows) if len(overlap) else None
        if change is not None:
            log.info("%s: adjustment basis changed (adj_close x %.6f): re-reading from %s", name, change.factor,
                     f"{dates.min():%Y-%m-%d}")
            rows, origin = source_rows(name, source, dates.min().date(), until, refresh=True)
    except DataError as error:
        message = str(error) if change is None else (
            f"{_describe(change)}, but re-reading the history failed, so nothing was written: {error}")
        log.warning("%s: %s", name, message)
        return UpsertReport(group=name, received=0, source=source, error=message)
    report = store.upsert(group, rows, now=now)
    report.group, report.source = name, origin
    if change is not None:
        report.revision = _revision(store, name, stored, rows, change)
        log.info("%s: %s", name, report.revision)
    return report


def _basis_change(stored: pd.DataFrame, fresh: pd.DataFrame,
                  tolerance: float = BASIS_TOLERANCE) -> _BasisChange | None:
    """Whether the ``fresh`` rows of days already ``stored`` sit on another adjustment basis.

    Only days whose raw close agrees within ``tolerance`` (relative) count: a changed close is a
    correction of that day, which the upsert writes as a new version of that row alone. On the others,
    ``adj_close / close`` moving by more than ``tolerance`` means the history was re-adjusted.
    """
    if "adj_close" not in fresh:
        return None
    both = stored[["date", "close", "adj_close"]].merge(fresh[["date", "close", "adj_close"]], on="date",
                                                         suffixes=("_old", ""))
    same_close = (both["close"] / both["close_old"] - 1).abs() <= tolerance
    factor = (both["adj_close"] / both["close"]) / (both["adj_close_old"] / both["close_old"])
    moved = (same_close & ((factor - 1).abs() > tolerance)).to_numpy()  # NaN on either side: not evidence
    if not moved.any():
        return None
    first = int(moved.argmax())
    return _BasisChange(both["date"].iloc[first], float(factor.iloc[first]))


def _describe(change: _BasisChange) -> str:
    return f"adjustment basis changed on {change.day:%Y-%m-%d} (adj_close × {change.factor:.4f} on the overlap)"


def _revision(store: FeatureStore, name: str, stored: pd.DataFrame, fresh: pd.DataFrame,
              change: _BasisChange) -> str:
    """The report line of a re-ingested history: rows revised, and stored days left on the old basis."""
    after = store.read(name, end=stored["date"].max(), columns=["adj_close"])
    days = (stored[["date", "ingested_at"]].merge(after, on="date", suffixes=("_old", ""))
            .merge(fresh[["date", "adj_close"]], on="date", how="left", suffixes=("", "_fresh")))
    revised = int((days["ingested_at"] != days["ingested_at_old"]).sum())
    text = f"{_describe(change)}: history re-ingested, {revised:,} rows revised"
    # The store never deletes: a day the source no longer returns (or rejected now) keeps its old value.
    behind = days.loc[~np.isclose(days["adj_close"], days["adj_close_fresh"], rtol=BASIS_TOLERANCE, atol=0,
                                  equal_nan=True), "date"]
    if len(behind):
        listed = ", ".join(f"{day:%Y-%m-%d}" for day in behind[:5]) + (", ..." if len(behind) > 5 else "")
        text += f"; {len(behind)} stored day(s) missing from or rejected in the re-read keep the old basis: {listed}"
    return text
