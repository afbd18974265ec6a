"""Feature groups: their declared schema and version, and the row checks a batch must pass to be stored.

A group is keyed by ``(symbol, date)``; its value columns are float64. `validate` splits a batch into rows
that may be stored (typed to the schema) and rejected rows, each with every reason it failed, so a bad
row is reported rather than dropped or coerced, and its good neighbours still go in. A rule about a whole
column (an unexpected column, dates whose day/month order the column does not settle) rejects every row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from hpcast.data.dates import DateOrderError, read_dates

__all__ = ["GROUPS", "KEYS", "QUARANTINE", "SYMBOLS", "FeatureGroup", "validate"]

KEYS = ("symbol", "date")


@dataclass(frozen=True)
class FeatureGroup:
    """A table's contract. ``required`` columns may not be missing; ``positive`` ones must be > 0."""

    name: str
    version: int
    columns: tuple[str, ...]
    description: str
    required: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    keys: tuple[str, ...] = KEYS
    strings: tuple[str, ...] = ()  # non-key columns holding text rather than float64
    derived: bool = False

    def arrow_schema(self) -> pa.Schema:
        fields = [pa.field(key, pa.date32() if key == "date" else pa.string(), nullable=False) for key in self.keys]
        fields += [pa.field(c, pa.string() if c in self.strings else pa.float64()) for c in self.columns]
        return pa.schema([*fields, pa.field("ingested_at", pa.timestamp("us", tz="UTC"), nullable=False)])

    def to_arrow(self, frame: pd.DataFrame, ingested_at: pd.Timestamp) -> pa.Table:
        """Typed Arrow table of ``frame`` (already validated) stamped with ``ingested_at``."""
        arrays = []
        for field in self.arrow_schema():
            if field.name == "ingested_at":
                arrays.append(pa.array(np.full(len(frame), ingested_at.value // 1000, dtype="int64"),
                                       type=field.type))
            elif field.type == pa.date32():
                arrays.append(pa.array(frame["date"].to_numpy().astype("datetime64[D]"), type=pa.date32()))
            elif field.type == pa.string():
                arrays.append(pa.array(frame[field.name].astype(object).to_numpy(), type=pa.string()))
            else:
                arrays.append(pa.array(frame[field.name].to_numpy(dtype=np.float64), type=pa.float64(),
                                       from_pandas=True))
        return pa.Table.from_arrays(arrays, schema=self.arrow_schema())


_PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close", "volume")
GROUPS: dict[str, FeatureGroup] = {
    "prices": FeatureGroup("prices", 1, _PRICE_COLUMNS, "daily prices: OHLC, adjusted close, volume",
                           required=("close",), positive=("open", "high", "low", "close", "adj_close")),
    "macro": FeatureGroup("macro", 1, ("value",), "macro series: CPI, inflation, interest rates",
                          required=("value",)),
    "returns": FeatureGroup("returns", 1, ("simple_return", "log_return"),
                            "returns of the adjusted close (close where no adjusted close)", derived=True),
    "moving_averages": FeatureGroup("moving_averages", 1, ("ma_20", "ma_50", "ma_100", "ma_200"),
                                    "trailing moving averages of the adjusted close, over rows", derived=True),
}
SYMBOLS = FeatureGroup("symbols", 1, ("group", "description", "source", "freq"), "registered symbols",
                       keys=("symbol",), strings=("group", "description", "source", "freq"))
QUARANTINE = FeatureGroup("quarantine", 1, ("target_group", "symbol", "date", "reason", "row"),
                          "rejected rows with the reasons", keys=("row_id",),
                          strings=("target_group", "symbol", "date", "reason", "row"))


def _reason_column(reasons: list[pd.Series | None], index: pd.Index) -> pd.Series:
    joined = pd.Series("", index=index, dtype=object)
    for reason in reasons:
        if reason is None:
            continue
        hit = reason.dropna()
        if len(hit):
            joined.loc[hit.index] = np.where(joined.loc[hit.index] == "", hit, joined.loc[hit.index] + "; " + hit)
    return joined


def _message(mask: pd.Series, text: Callable[[pd.Series], Any] | str) -> pd.Series | None:
    """The reason where ``mask`` holds; ``text(mask)`` builds one message per failing row (only for those)."""
    mask = mask.fillna(False).astype(bool)
    if not mask.any():
        return None
    out = pd.Series(np.nan, index=mask.index, dtype=object)
    out.loc[mask] = text if isinstance(text, str) else np.asarray(list(text(mask)), dtype=object)
    return out


def _text(values: pd.Series, template: str) -> Callable[[pd.Series], pd.Series]:
    """A message builder: ``template`` with ``{}`` replaced by each failing row's value."""
    return lambda mask: values[mask].map(lambda v: template.format(repr(v) if isinstance(v, str) else v))


def _read_date_column(raw: pd.Series, date_format: str | None) -> tuple[pd.Series, pd.Series]:
    """Each row's date at midnight, without a time zone, and the date rule it breaks (NaN where none).

    Stamps (datetime64 or Timestamp cells) keep their wall-clock date. Text follows
    `hpcast.data.dates.read_dates`, rows numbered as a CSV file with a header shows them (the batch's first
    row is row 2); when the column does not settle its day/month order, every row breaks that rule.
    """
    if pd.api.types.is_datetime64_any_dtype(raw):
        stamped = raw.notna()
        dates = raw.dt.tz_localize(None) if raw.dt.tz is not None else raw
    else:
        stamped = raw.map(lambda cell: isinstance(cell, date | np.datetime64) and not pd.isna(cell)).astype(bool)
        dates = pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]")
        dates[stamped] = [_wall_clock_stamp(cell) for cell in raw[stamped]]
    dates = dates.astype("datetime64[ns]")
    text = raw[~stamped].map(lambda cell: "" if pd.isna(cell) else str(cell).strip()).astype(object)
    try:
        read, problems = read_dates(text, date_format, column="date", rows=pd.Series(text.index + 2, index=text.index))
    except DateOrderError as error:  # the order is the column's: no row of it can be read
        read = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
        problems = pd.Series(error.rule, index=raw.index, dtype=object)
    dates.loc[text.index] = read
    return dates.dt.normalize(), problems.reindex(raw.index)


def _wall_clock_stamp(stamp: object) -> pd.Timestamp:
    """``stamp`` as a Timestamp on its own clock (a time zone dropped, not converted)."""
    stamp = pd.Timestamp(stamp)
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def validate(group: FeatureGroup, batch: pd.DataFrame, known_symbols: set[str], today: date, *,
             date_format: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``batch`` into ``(clean, rejected)``.

    ``clean`` has columns ``symbol, date, <group columns>`` typed (``date`` as datetime64, values float64,
    absent optional columns as NaN). ``rejected`` has ``target_group, symbol, date, reason, row`` where
    ``row`` is the original row as JSON. Checks: missing or unexpected columns, unknown symbols, dates
    that break a date rule (`_read_date_column`; ``date_format`` as `hpcast.data.dates.read_dates` takes
    it) or lie after ``today``, values that are not numbers, missing required values, non-positive prices,
    infinite values, ``high < low``, negative volume, duplicate keys in the batch.
    """
    batch = batch.reset_index(drop=True)
    index = batch.index
    reasons: list[pd.Series | None] = []
    unexpected = sorted(set(batch.columns) - set(group.keys) - set(group.columns) - {"ingested_at"})
    missing = [c for c in (*group.keys, *group.required) if c not in batch.columns]
    for problem in ([f"unexpected column {c!r} (group {group.name!r} has {list(group.columns)})"
                     for c in unexpected] + [f"column {c!r} is missing" for c in missing]):
        reasons.append(pd.Series(problem, index=index, dtype=object))

    symbol = batch["symbol"] if "symbol" in batch else pd.Series(np.nan, index=index, dtype=object)
    symbol_text = symbol.astype(object).where(symbol.notna(), None)
    no_symbol = symbol.isna() | (symbol.astype(str).str.strip() == "")
    reasons.append(_message(no_symbol, "symbol is missing"))
    unknown = ~no_symbol & ~symbol.astype(str).isin(known_symbols)
    reasons.append(_message(unknown, _text(symbol.astype(str), "unknown symbol {} (not registered in group "
                                           f"{group.name!r}: backfill it, or import with --register)")))

    raw_date = batch["date"] if "date" in batch else pd.Series(np.nan, index=index, dtype=object)
    dates, date_problems = _read_date_column(raw_date, date_format)
    reasons.append(date_problems)
    reasons.append(_message(dates > pd.Timestamp(today),
                            _text(dates, f"date {{:%Y-%m-%d}} is in the future (today is {today})")))

    clean = pd.DataFrame({"symbol": symbol.astype(str), "date": dates}, index=index)
    for column in group.columns:
        raw = batch[column] if column in batch else pd.Series(np.nan, index=index, dtype=object)
        if raw.dtype == bool:
            raw = raw.astype(object)
        values = pd.to_numeric(raw, errors="coerce").astype(np.float64)
        reasons.append(_message(raw.notna() & values.isna(), _text(raw, f"{column} is not a number: {{}}")))
        if column in group.required:
            reasons.append(_message(raw.isna(), f"{column} is missing (NaN)"))
        reasons.append(_message(np.isinf(values), f"{column} is infinite"))
        if column in group.positive:
            reasons.append(_message(values <= 0, _text(values, f"{column} must be > 0, got {{}}")))
        clean[column] = values
    if {"high", "low"} <= set(group.columns):
        reasons.append(_message(clean["high"] < clean["low"], lambda mask: [
            f"high ({high}) < low ({low})" for high, low in zip(clean["high"][mask], clean["low"][mask], strict=True)]))
    if "volume" in group.columns:
        reasons.append(_message(clean["volume"] < 0, _text(clean["volume"], "volume must be >= 0, got {}")))
    keyed = ~no_symbol & dates.notna()
    duplicate = keyed & clean.duplicated(["symbol", "date"], keep=False)
    reasons.append(_message(duplicate, lambda mask: [
        f"duplicate key ({s}, {d:%Y-%m-%d}) in this batch" for s, d in zip(symbol[mask], dates[mask], strict=True)]))

    why = _reason_column(reasons, index)
    bad = why != ""
    rejected = pd.DataFrame({
        "target_group": group.name,
        "symbol": symbol_text[bad],
        "date": raw_date[bad].astype(object).map(lambda v: None if pd.isna(v) else str(v)),
        "reason": why[bad],
        "row": [json.dumps(row, default=str, sort_keys=True) for row in batch[bad].to_dict("records")],
    })
    rejected["row_id"] = [hashlib.sha256(f"{g}|{r}".encode()).hexdigest()[:32]
                          for g, r in zip(rejected["target_group"], rejected["row"], strict=True)]
    return clean[~bad].reset_index(drop=True), rejected.reset_index(drop=True)
