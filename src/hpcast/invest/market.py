"""What the simulator stands on: price series, a cash rate and a CPI series, read once from the store.

A `Market` is an in-memory snapshot (a few MB for the bundled data), so a simulation never waits on the
store. Cash earns the short-term Treasury rate; inflation comes from the freshest CPI series the store
holds. Which as-of dates a set of assets allows, and why, is decided here too (`as_of_range`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pandas as pd

from hpcast._uris import redact

__all__ = ["CASH", "CPI_SOURCES", "MIN_HISTORY_DAYS", "RATE_SOURCES", "AsOfRange", "AssetInfo", "Market"]

CASH = "cash"
# Cash-rate symbols, best first, with the factor that turns their unit into a decimal fraction per year.
RATE_SOURCES = {"treasury_3m": 1.0, "treasury_1m": 1.0, "tbill": 0.01}
CPI_SOURCES = ("cpi", "core_cpi")  # headline CPI first when both are equally fresh
MIN_HISTORY_DAYS = 365  # the joint bootstrap needs about a year of common history before the as-of date
MEMO_SIZE = 32
T = TypeVar("T")


@dataclass(frozen=True)
class AssetInfo:
    """One asset a person can allocate to."""

    name: str
    kind: str  # "price" or "cash"
    description: str
    first: pd.Timestamp
    last: pd.Timestamp

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "description": self.description,
                "first_date": self.first.date().isoformat(), "last_date": self.last.date().isoformat()}


@dataclass(frozen=True)
class AsOfRange:
    """The as-of dates a set of assets allows (``first`` > ``last`` means none) and the reason in words."""

    first: pd.Timestamp
    last: pd.Timestamp
    why: str

    @property
    def empty(self) -> bool:
        return self.first > self.last

    def to_dict(self) -> dict[str, str]:
        return {"first": self.first.date().isoformat(), "last": self.last.date().isoformat(), "why": self.why}


@dataclass
class Market:
    """Price series (``prices[name]``: closes indexed by date), the cash rate and CPI series."""

    prices: dict[str, pd.Series]
    descriptions: dict[str, str] = field(default_factory=dict)
    rate: pd.Series | None = None  # decimal fraction per year, indexed by date
    rate_symbol: str | None = None
    cpi: dict[str, pd.Series] = field(default_factory=dict)  # symbol -> index level, indexed by period start
    cpi_freq: dict[str, str] = field(default_factory=dict)
    source: str = "memory"
    _memo: dict[Any, OrderedDict[tuple, Any]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def memo(self, key: tuple, compute: Callable[[], T], size: int = MEMO_SIZE) -> T:
        """``compute()`` once per ``key``: derived arrays reused across requests. Keys are kept per kind
        (``key[0]``), the newest ``size`` of each, so many small entries never push out a few large ones."""
        with self._lock:
            kind = self._memo.setdefault(key[0], OrderedDict())
            if key in kind:
                kind.move_to_end(key)
                return kind[key]
        value = compute()
        with self._lock:
            kind[key] = value
            while len(kind) > size:
                kind.popitem(last=False)
        return value

    @classmethod
    def from_store(cls, store: Any) -> Market:
        """Snapshot of every prices symbol, the best cash-rate series and the CPI series in ``store``."""
        symbols = store.symbols()
        if symbols.empty:
            raise ValueError(f"the store at {redact(store.url)} is empty: run `hpcast store backfill` first")
        groups = dict(zip(symbols["symbol"], symbols["group"], strict=True))
        descriptions = dict(zip(symbols["symbol"], symbols["description"], strict=True))
        freqs = dict(zip(symbols["symbol"], symbols["freq"], strict=True))
        from hpcast.store.ingest import ASSETS

        catalog = list(ASSETS)  # the catalog's order (indices first), then anything else alphabetically
        ordered = sorted(groups, key=lambda n: (catalog.index(n) if n in catalog else len(catalog), n))
        prices = {name: _series(store.dataset(name)) for name in ordered if groups[name] == "prices"}
        rate_symbol = next((s for s in RATE_SOURCES if groups.get(s) == "macro"), None)
        rate = _series(store.dataset(rate_symbol)) * RATE_SOURCES[rate_symbol] if rate_symbol else None
        cpi = {s: _series(store.dataset(s)) for s in CPI_SOURCES if groups.get(s) == "macro"}
        return cls(prices, {n: descriptions[n] for n in prices}, rate, rate_symbol, cpi,
                   {s: freqs[s] for s in cpi}, f"store {redact(store.url)}")

    # -- what can be chosen ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Allocatable assets: every price series, then cash when a rate series is known."""
        return [*self.prices, *([CASH] if self.rate is not None else [])]

    def assets(self) -> list[AssetInfo]:
        infos = [AssetInfo(n, "price", self.descriptions.get(n, n), s.index[0], s.index[-1])
                 for n, s in self.prices.items()]
        if self.rate is not None:
            infos.append(AssetInfo(CASH, "cash", f"cash earning the short-term Treasury rate ({self.rate_symbol})",
                                   self.rate.index[0], self.rate.index[-1]))
        return infos

    def span(self, name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        series = self.rate if name == CASH else self.prices[name]
        assert series is not None
        return series.index[0], series.index[-1]

    def as_of_range(self, names: list[str]) -> AsOfRange:
        """Dates with data for every asset in ``names`` and a year of common history before them."""
        spans = {n: self.span(n) for n in names}
        last_name = min(spans, key=lambda n: spans[n][1])
        first_name = max(spans, key=lambda n: spans[n][0])
        last = spans[last_name][1]
        first = spans[first_name][0] + pd.Timedelta(days=MIN_HISTORY_DAYS if first_name != CASH else 0)
        ends = ", ".join(f"{n} {a.date()}..{b.date()}" for n, (a, b) in spans.items())
        if first > last:
            why = (f"no date works: the chosen assets' histories ({ends}) do not overlap by a year; "
                   "choose assets whose histories overlap")
        else:
            why = (f"latest date every chosen asset has data for is {last.date()} ({last_name} ends there); "
                   f"earliest is {first.date()} ({first_name} starts {spans[first_name][0].date()}"
                   + (", and the simulation needs a year of history)" if first_name != CASH else ")"))
        return AsOfRange(first, last, why)


def _series(dataset: Any) -> pd.Series:
    series = dataset.series()
    return series[~series.index.duplicated(keep="last")].astype(float)
