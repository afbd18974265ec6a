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

import pandas as pd

from hpcast._uris import redact
from hpcast.data.bundled import BUNDLED, load_bundled
from hpcast.data.frame import DataError
from hpcast.store.store import FeatureStore, StoreError, UpsertReport

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


def _asset(name: str) -> Asset:
    if name not in ASSETS:
        raise StoreError(f"asset ({name!r}) must be one of: {', '.join(ASSETS)}")
    return ASSETS[name]


def source_rows(name: str, source: str = "bundled", start: str | date | None = None,
                end: str | date | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of asset ``name`` between ``start`` and ``end`` (inclusive) in its group's shape, and their origin."""
    asset = _asset(name)
    if source not in ("bundled", "yahoo"):
        raise StoreError(f"source ({source!r}) must be 'bundled' or 'yahoo'")
    origin = f"bundled {asset.bundled}"
    if source == "yahoo" and asset.ticker:
        from hpcast.data.yahoo import fetch_yahoo

        first = start or "1990-01-01"
        last = pd.Timestamp(end or date.today()) + pd.Timedelta(days=1)  # Yahoo's end is exclusive
        frame = fetch_yahoo(asset.ticker, first, last.date()).frame
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
        group = _asset(name).group
        last = store.read(name, group=group, columns=[])["date"].max()
        start = None if pd.isna(last) else (last - pd.Timedelta(days=REVISION_DAYS)).date()
        try:
            rows, origin = source_rows(name, source or sources[name], start, until)
        except DataError as error:
            log.warning("%s: %s", name, error)
            reports.append(UpsertReport(group=name, received=0, source=source or sources[name], error=str(error)))
            continue
        report = store.upsert(group, rows, now=now)
        report.group, report.source = name, origin
        reports.append(report)
    return reports
