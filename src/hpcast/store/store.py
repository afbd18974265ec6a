"""The feature store: feature groups as versioned Parquet tables on any fsspec URL, read with DuckDB.

``FeatureStore(url)`` with ``url`` a local folder (default ``./hpcast-data/store``, or ``HPCAST_STORE``) or
``s3://bucket/prefix`` (credentials from the environment / the standard AWS chain, never from here).

- `FeatureStore.upsert` validates a batch, quarantines bad rows with their reasons, and writes only the
  rows that are new or changed, in one atomic commit (see `hpcast.store.table`). Writing the same rows
  again therefore changes nothing, and a revised value becomes a new version of its row.
- `FeatureStore.read` returns, per key, the newest version ingested at or before ``as_of``.
- After prices change, the derived groups (returns, moving averages) are recomputed for the changed
  symbols from the first changed date on, with just enough history before it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from hpcast._uris import redact
from hpcast.data.bundled import BUNDLED
from hpcast.data.frame import FREQUENCIES, Dataset
from hpcast.errors import CommitConflictError, StoreError
from hpcast.store.derived import context_days, derive
from hpcast.store.schema import GROUPS, QUARANTINE, SYMBOLS, FeatureGroup, validate
from hpcast.store.table import Commit, Table, is_local

__all__ = ["DEFAULT_STORE", "FeatureStore", "UpsertReport", "store_url"]

log = logging.getLogger(__name__)

DEFAULT_STORE = "./hpcast-data/store"


def store_url(url: str | None = None) -> str:
    """The store to use: ``url``, else ``HPCAST_STORE``, else `DEFAULT_STORE`."""
    return url or os.environ.get("HPCAST_STORE") or DEFAULT_STORE


@dataclass
class UpsertReport:
    """What one upsert did. ``rejected`` holds the quarantined rows with their reasons."""

    group: str
    received: int
    written: int = 0
    unchanged: int = 0
    version: int | None = None
    rejected: pd.DataFrame = field(default_factory=pd.DataFrame)
    derived: dict[str, int] = field(default_factory=dict)
    source: str = ""
    error: str = ""  # set when the batch could not be fetched at all (the other assets still ran)
    revision: str = ""  # set when the source re-adjusted the whole history and it was re-ingested: what and how much

    @property
    def changed(self) -> bool:
        return self.written > 0 or any(self.derived.values())

    def summary(self) -> str:
        text = (f"{self.group}: {self.revision + '; ' if self.revision else ''}{self.received} rows received, "
                f"{self.written} written, {self.unchanged} unchanged, {len(self.rejected)} rejected")
        if self.version is not None:
            text += f" (commit {self.version})"
        for name, rows in self.derived.items():
            text += f"; {name}: {rows} written"
        return text


class FeatureStore:
    """Feature groups under one URL. Cheap to create; holds one in-memory DuckDB connection."""

    def __init__(self, url: str | None = None) -> None:
        import fsspec

        self.url = store_url(url)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        self.root = self.root.rstrip("/")
        self._tables: dict[str, Table] = {}
        self._db: Any = None

    # ---- plumbing -------------------------------------------------------------------------------------------
    def table(self, name: str) -> Table:
        if name not in self._tables:
            self._tables[name] = Table(self.fs, f"{self.root}/{name}/v{self._group(name).version}")
        return self._tables[name]

    @staticmethod
    def _group(name: str) -> FeatureGroup:
        special = {SYMBOLS.name: SYMBOLS, QUARANTINE.name: QUARANTINE}
        if name in special:
            return special[name]
        if name not in GROUPS:
            raise StoreError(f"group ({name!r}) must be one of {sorted(GROUPS)}")
        return GROUPS[name]

    @property
    def db(self) -> Any:
        if self._db is None:
            import duckdb

            self._db = duckdb.connect()
            self._db.execute("SET TimeZone = 'UTC'")
            if not is_local(self.fs):
                self._db.register_filesystem(self.fs)  # DuckDB's httpfs cannot be installed offline
        return self._db

    def _parquet(self, files: list[str]) -> str:
        """DuckDB's ``read_parquet`` over ``files`` (with the protocol for a registered remote filesystem)."""
        if not is_local(self.fs):
            protocol = self.fs.protocol if isinstance(self.fs.protocol, str) else self.fs.protocol[0]
            files = [f"{protocol}://{path}" for path in files]
        return f"read_parquet({files!r})"

    def _latest(self, name: str, *, as_of: datetime | None = None, where: str = "", params: list | None = None,
                columns: list[str] | None = None, join: pd.DataFrame | None = None) -> pd.DataFrame:
        """Newest version per key of group ``name`` (rows stamped at or before ``as_of``), sorted by key."""
        group = self._group(name)
        files = self.table(name).files(as_of)
        wanted = [*group.keys, *(group.columns if columns is None else columns), "ingested_at"]
        if not files:
            return _empty(group, wanted)
        keys = ", ".join(f'"{k}"' for k in group.keys)
        source = self._parquet(files)
        conditions = [c for c in (where, "ingested_at <= ?" if as_of else "") if c]
        params = [*(params or []), *([as_of] if as_of else [])]
        if join is not None:  # keys to match (its key columns); its other columns may appear in `where`
            self.db.register("_batch_keys", join)
            source = f"{source} JOIN _batch_keys USING ({', '.join(c for c in join.columns if c in group.keys)})"
        selected = ", ".join(f'"{c}"' for c in wanted)
        sql = (f"SELECT {selected} FROM {source} {'WHERE ' + ' AND '.join(conditions) if conditions else ''}"
               f" QUALIFY row_number() OVER (PARTITION BY {keys} ORDER BY ingested_at DESC) = 1 ORDER BY {keys}")
        try:
            frame = _to_pandas(self.db.sql(sql, params=params).to_arrow_table())
        finally:
            if join is not None:
                self.db.unregister("_batch_keys")
        if "date" in group.keys:
            frame["date"] = frame["date"].astype("datetime64[ns]")
        return frame

    # ---- symbols --------------------------------------------------------------------------------------------
    def symbols(self, group: str | None = None, as_of: datetime | None = None) -> pd.DataFrame:
        """Registered symbols (``symbol, group, description, source, freq``), optionally of one group."""
        frame = self._latest(SYMBOLS.name, as_of=as_of)
        return frame[frame["group"] == group].reset_index(drop=True) if group else frame

    def register(self, entries: pd.DataFrame, *, now: datetime | None = None) -> int:
        """Register symbols (columns ``symbol, group, description, source, freq``); returns rows written."""
        for name in entries["group"].unique():
            self._group(name)
        bad = sorted(set(entries["freq"]) - set(FREQUENCIES))
        if bad:
            raise StoreError(f"freq {bad} must be one of {sorted(FREQUENCIES)}")
        return len(self._upsert_changed(SYMBOLS.name, entries.reset_index(drop=True), now)[0])

    # ---- writes ---------------------------------------------------------------------------------------------
    def _upsert_changed(self, name: str, frame: pd.DataFrame,
                        now: datetime | None) -> tuple[pd.DataFrame, int | None]:
        """Write the rows of ``frame`` that differ from the stored newest versions; (rows written, version)."""
        if frame.empty:
            return frame, None
        group = self._group(name)
        for attempt in range(64):
            version_seen = len(self.table(name).commits())
            current = self._latest(name, join=frame[list(group.keys)].drop_duplicates())
            changed = _changed_rows(frame, current, group)
            if changed.empty:
                return changed, None
            try:
                return changed, self._commit_once(name, changed, now, version_seen)
            except CommitConflictError:
                time.sleep(random.uniform(0.005, 0.05) * (1 + attempt))  # someone else committed: diff again
        raise StoreError(f"could not commit to {name} after 64 attempts: too many concurrent writers")

    def _commit_once(self, name: str, frame: pd.DataFrame, now: datetime | None, version_seen: int) -> int:
        table, group = self.table(name), self._group(name)
        commits = table.commits()
        if len(commits) != version_seen:
            raise CommitConflictError(f"{name} moved on while diffing")
        last = commits[-1] if commits else None
        stamp = table.next_stamp(now, last)
        file = table.write_file(group.to_arrow(frame.sort_values(list(group.keys)), pd.Timestamp(stamp)))
        try:
            table.commit(Commit(version=version_seen + 1, ingested_at=stamp, files=(file,), rows=len(frame)))
        except CommitConflictError:
            table.remove_file(file)
            raise
        return version_seen + 1

    def upsert(self, name: str, batch: pd.DataFrame, *, now: datetime | None = None,
               today: date | None = None, date_format: str | None = None) -> UpsertReport:
        """Validate ``batch`` for group ``name``, quarantine bad rows, write new and changed rows atomically.

        ``date_format`` says how text dates are written, as `hpcast.data.dates.read_dates` takes it.

        Example:
            >>> store = FeatureStore("/tmp/doc-store")                              # doctest: +SKIP
            >>> store.upsert("prices", frame).summary()                             # doctest: +SKIP
            'prices: 5031 rows received, 5031 written, 0 unchanged, 0 rejected (commit 1)'
        """
        group = self._group(name)
        if group.derived:
            raise StoreError(f"group {name!r} is derived from prices and computed by the store, not written")
        today = today or datetime.now(UTC).date()
        known = set(self.symbols(name)["symbol"])
        clean, rejected = validate(group, batch, known, today, date_format=date_format)
        report = UpsertReport(group=name, received=len(batch), rejected=rejected)
        if len(rejected):
            self._upsert_changed(QUARANTINE.name, rejected, now)
            log.info("%s: %d rows rejected (see `hpcast store show --quarantine`)", name, len(rejected))
        changed, report.version = self._upsert_changed(name, clean, now)
        report.written, report.unchanged = len(changed), len(clean) - len(changed)
        if name == "prices" and len(changed):
            report.derived = self.refresh_derived(changed.groupby("symbol")["date"].min().to_dict(), now=now)
        return report

    def refresh_derived(self, since: dict[str, pd.Timestamp], *, now: datetime | None = None) -> dict[str, int]:
        """Recompute returns and moving averages of each symbol from its ``since`` date on."""
        if not since:
            return {}
        freqs = dict(zip(*self.symbols("prices")[["symbol", "freq"]].to_numpy().T, strict=True))
        starts = pd.DataFrame({"symbol": list(since),
                               "context": [since[s] - pd.Timedelta(days=context_days(freqs.get(s, "B")))
                                           for s in since]})
        starts["context"] = starts["context"].astype("datetime64[ns]")
        prices = self._latest("prices", columns=["close", "adj_close"], join=starts, where='"date" >= "context"')
        derived = derive(prices)
        keep = derived["date"] >= derived["symbol"].map(since).astype("datetime64[ns]")
        written = {}
        for name in ("returns", "moving_averages"):
            columns = ["symbol", "date", *GROUPS[name].columns]
            written[name] = len(self._upsert_changed(name, derived.loc[keep, columns].reset_index(drop=True), now)[0])
        return written

    # ---- reads ----------------------------------------------------------------------------------------------
    def read(self, symbols: list[str] | str | None = None, start: str | date | None = None,
             end: str | date | None = None, *, as_of: datetime | None = None, group: str = "prices",
             columns: list[str] | None = None) -> pd.DataFrame:
        """Rows of ``group`` for ``symbols`` between ``start`` and ``end`` (inclusive), as known at ``as_of``.

        Example:
            >>> FeatureStore().read("sp500", "2018-01-01", as_of=datetime(2019, 1, 1, tzinfo=timezone.utc))
            ...                                                                      # doctest: +SKIP
        """
        conditions, params = [], []
        if symbols is not None:
            symbols = [symbols] if isinstance(symbols, str) else list(symbols)
            conditions.append(f"symbol IN ({', '.join('?' * len(symbols))})")
            params += symbols
        for bound, op in ((start, ">="), (end, "<=")):
            if bound is not None:
                conditions.append(f"date {op} ?")
                params.append(pd.Timestamp(bound).date())
        return self._latest(group, as_of=_utc(as_of), where=" AND ".join(conditions), params=params,
                            columns=columns).reset_index(drop=True)

    def dataset(self, symbol: str, *, as_of: datetime | None = None) -> Dataset:
        """``symbol`` as known at ``as_of``, as the `Dataset` every model and backtest takes."""
        registered = self.symbols(as_of=_utc(as_of))
        entry = registered[registered["symbol"] == symbol]
        if entry.empty:
            raise StoreError(f"symbol ({symbol!r}) must be one of the store's: {', '.join(registered['symbol'])}")
        group, freq = entry["group"].item(), entry["freq"].item()
        frame = self.read(symbol, as_of=as_of, group=group).drop(columns="ingested_at")
        if frame.empty:
            raise StoreError(f"symbol {symbol!r} has no rows" + (f" as of {as_of}" if as_of else ""))
        if group == "prices":
            frame = frame.assign(adj_close=frame["adj_close"].fillna(frame["close"]))
            frame = frame[["symbol", "date", "close", "adj_close"]]  # OHLV may be missing (gold has a close only)
        stamp = _utc(as_of)
        calendar = BUNDLED[symbol].calendar if symbol in BUNDLED else None  # the catalog's assets keep theirs
        return Dataset(name=symbol, frame=frame.reset_index(drop=True), freq=freq,
                       target="adj_close" if group == "prices" else "value", calendar=calendar,
                       source=f"store {redact(self.url)}" + (f" as of {stamp:%Y-%m-%d %H:%M:%S} UTC" if stamp else ""))

    def quarantine(self) -> pd.DataFrame:
        """Every rejected row with its group, reason, original content and when it was rejected."""
        return self._latest(QUARANTINE.name).sort_values("ingested_at").reset_index(drop=True)

    def content_hash(self, name: str) -> str:
        """sha256 of the newest rows of ``name`` sorted by key (including ingestion times)."""
        frame = self._latest(name)
        return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()

    def status(self) -> pd.DataFrame:
        """One line per group: rows, symbols, date range, commits, last ingestion, data files, orphans."""
        lines = []
        for name in GROUPS:
            table = self.table(name)
            commits = table.commits()
            files = table.files()
            row = {"group": name, "version": self._group(name).version, "commits": len(commits),
                   "files": len(files), "orphans": len(table.orphans()),
                   "last_ingested": commits[-1].ingested_at.strftime("%Y-%m-%d %H:%M:%S") if commits else "-"}
            if files:
                facts = self.db.execute(
                    f"SELECT count(DISTINCT (symbol, date)), count(DISTINCT symbol), min(date), max(date) "
                    f"FROM {self._parquet(files)}").fetchall()[0]
                row.update(rows=facts[0], symbols=facts[1], first=str(facts[2]), last=str(facts[3]))
            else:
                row.update(rows=0, symbols=0, first="-", last="-")
            lines.append(row)
        return pd.DataFrame(lines)


def _changed_rows(frame: pd.DataFrame, current: pd.DataFrame, group: FeatureGroup) -> pd.DataFrame:
    """Rows of ``frame`` whose key is new or whose values differ from ``current`` (missing == missing)."""
    keys, columns = list(group.keys), list(group.columns)
    if current.empty:
        return frame.drop_duplicates(keys, keep="last")
    merged = frame.merge(current[keys + columns], on=keys, how="left", suffixes=("", "__old"), indicator=True)
    differs = merged["_merge"] == "left_only"
    for column in columns:
        new, old = merged[column], merged[f"{column}__old"]
        if column in group.strings:
            differs |= (new.fillna("\0") != old.fillna("\0"))
        else:
            differs |= ~((new == old) | (new.isna() & old.isna()))
    return frame[differs.to_numpy()].reset_index(drop=True)


def _empty(group: FeatureGroup, columns: list[str]) -> pd.DataFrame:
    text = {*group.strings, *group.keys} - {"date"}
    frame = pd.DataFrame({c: pd.Series(dtype=object if c in text else np.float64) for c in columns})
    if "date" in frame:
        frame["date"] = frame["date"].astype("datetime64[ns]")
    if "ingested_at" in frame:
        frame["ingested_at"] = pd.Series(dtype="datetime64[us, UTC]")
    return frame


def _to_pandas(table: Any) -> pd.DataFrame:
    """DuckDB's Arrow result as pandas, dates as datetime64 (DuckDB's own ``.df()`` warns under pandas 3)."""
    return table.to_pandas(date_as_object=False)


def _utc(moment: datetime | str | None) -> datetime | None:
    if moment is None:
        return None
    stamp = pd.Timestamp(moment)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()
