"""Daily prices from Yahoo Finance through yfinance, cached on disk.

yfinance swallows most failures and returns an empty frame; this module turns every failure into a
`DataError` that says what to do instead. A cached range is served from disk without any request, so a
second fetch of the same range works offline.
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpcast._io import atomic_write_text
from hpcast.data.frame import Dataset, infer_frequency
from hpcast.errors import DataError

__all__ = ["default_cache_dir", "fetch_yahoo"]

_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
            "Volume": "volume"}
_OFFLINE = "could not reach Yahoo Finance; use --csv or a bundled dataset (hpcast data list)"


def default_cache_dir() -> Path:
    """``$HPCAST_CACHE`` or ``./hpcast-data/cache``."""
    return Path(os.environ.get("HPCAST_CACHE", "hpcast-data/cache"))


def _cache_file(cache_dir: Path, ticker: str, start: str, end: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", ticker)
    return cache_dir / "yahoo" / f"{safe}_{start}_{end}_1d.csv"


def _download(ticker: str, start: str, end: str, session: Any, cache_dir: Path, refresh: bool = False) -> pd.DataFrame:
    import yfinance as yf  # heavy: imported only when fetching

    yf.set_tz_cache_location(str(cache_dir / "yfinance-tz"))
    if refresh:  # yfinance also memoises, per process, its answers for ranges that ended in the past
        getattr(getattr(yf.data.YfData, "cache_get", None), "cache_clear", lambda: None)()
    try:
        history = yf.Ticker(ticker, session=session).history(
            start=start, end=end, interval="1d", auto_adjust=False, actions=False)
    except (OSError, ConnectionError) as error:  # curl_cffi DNS errors are OSErrors
        raise DataError(f"{_OFFLINE} ({type(error).__name__})") from error
    except Exception as error:
        if "connect" in str(error).lower() or "resolve" in str(error).lower():
            raise DataError(f"{_OFFLINE} ({type(error).__name__})") from error
        raise DataError(f"Yahoo Finance request for {ticker!r} failed: {error}") from error
    if history is None or history.empty:
        raise DataError(f"Yahoo Finance returned no prices for {ticker!r} between {start} and {end}: "
                        f"the ticker may not exist, or Yahoo could not be reached. {_OFFLINE}")
    return history


def fetch_yahoo(
    ticker: str,
    start: str | date,
    end: str | date | None = None,
    *,
    cache_dir: str | Path | None = None,
    session: Any = None,
    refresh: bool = False,
) -> Dataset:
    """Daily OHLCV for one ticker (``^GSPC``, ``AAPL``, ``GC=F``, ``BTC-USD``) as a `Dataset`.

    Args:
        ticker: Yahoo symbol.
        start: first date (inclusive), ISO string or date.
        end: last date (exclusive, Yahoo's rule); default today.
        cache_dir: where fetched ranges are kept; default `default_cache_dir()`.
        session: a requests/curl_cffi session for yfinance (tests pass one to replay recorded responses).
        refresh: download even if the range is cached, and replace the cached file (Yahoo re-adjusts
            ``adj_close`` over the whole history after a dividend or split: a revision must see today's basis).

    Raises:
        DataError: offline, unknown ticker or empty answer, with what to use instead.

    Example:
        >>> ds = fetch_yahoo("^GSPC", "2015-01-01")  # doctest: +SKIP
    """
    start_text = pd.Timestamp(start).date().isoformat()
    end_text = pd.Timestamp(end if end is not None else date.today()).date().isoformat()
    if start_text >= end_text:
        raise DataError(f"start ({start_text}) must be before end ({end_text})")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cached = _cache_file(cache_dir, ticker, start_text, end_text)
    if refresh or not cached.is_file():
        history = _download(ticker, start_text, end_text, session, cache_dir, refresh)
        index = pd.DatetimeIndex(history.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        renamed = history.rename(columns=_COLUMNS)
        frame = renamed[[c for c in _COLUMNS.values() if c in renamed.columns]]
        frame.insert(0, "date", index.normalize())
        # Yahoo answers market holidays inside a range with empty bars; they are not observations.
        frame = frame.dropna(subset=["close"])
        atomic_write_text(cached, frame.to_csv(index=False))  # a crash never leaves half a cache file
    frame = pd.read_csv(cached, parse_dates=["date"])  # one path for fresh and cached ranges
    frame = frame.astype({c: np.float64 for c in frame.columns if c != "date"})
    frame.insert(0, "symbol", ticker)
    target = "adj_close" if "adj_close" in frame.columns else "close"
    return Dataset(name=ticker, frame=frame, freq=infer_frequency(frame["date"]), target=target,
                   source=f"yahoo: {ticker} {start_text}..{end_text} (cache {cached})")
