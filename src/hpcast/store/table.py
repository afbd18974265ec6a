"""One versioned, append-only table on any fsspec filesystem: Parquet data files plus a commit log.

Layout under the table's folder::

    data/<uuid>.parquet          immutable data files (invisible until a commit names them)
    _commits/<version>.json      one JSON object per commit, versions 1, 2, 3, ... zero-padded

Rules, and why they hold:

- **atomic**: a writer first writes its data file, then creates the next commit object. A reader only
  reads files named by commits, so a writer killed at any point leaves either no commit (its data file is
  an orphan nobody reads; `Table.orphans` lists them) or a whole one.
- **concurrent writers**: a commit object is created exclusively (a hard link on local disks, an
  ``If-None-Match: *`` PUT on S3). The loser of a race gets `CommitConflictError`, re-reads the table and tries
  again (optimistic concurrency), so nobody's rows are lost.
- **time travel**: every commit carries an ingestion timestamp, strictly increasing with the version, and
  every row carries its commit's stamp. The state "as of T" is the prefix of commits stamped at or
  before T.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hpcast.errors import CommitConflictError

__all__ = ["Commit", "Table", "is_local"]

_VERSION_DIGITS = 12
ROW_GROUP_ROWS = 65_536  # small enough that a one-symbol read of a sorted file touches one or two groups


def is_local(fs: Any) -> bool:
    """Whether ``fs`` is the local disk (atomic hard links; DuckDB reads its paths directly)."""
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


@dataclass(frozen=True)
class Commit:
    """What one commit added (and, for a compaction, replaced)."""

    version: int
    ingested_at: datetime
    files: tuple[str, ...]
    rows: int
    operation: str = "upsert"
    replaces: tuple[str, ...] = ()
    info: dict[str, Any] | None = None

    def to_json(self) -> bytes:
        return json.dumps({"version": self.version, "ingested_at": self.ingested_at.isoformat(),
                           "files": list(self.files), "rows": self.rows, "operation": self.operation,
                           "replaces": list(self.replaces), "info": self.info or {}}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Commit:
        raw = json.loads(data)
        return cls(version=raw["version"], ingested_at=datetime.fromisoformat(raw["ingested_at"]),
                   files=tuple(raw["files"]), rows=raw["rows"], operation=raw.get("operation", "upsert"),
                   replaces=tuple(raw.get("replaces", ())), info=raw.get("info") or None)


class Table:
    """A table folder ``path`` on filesystem ``fs`` (an fsspec filesystem)."""

    def __init__(self, fs: Any, path: str) -> None:
        self.fs, self.path = fs, path.rstrip("/")
        self._commits: dict[int, Commit] = {}  # commits are immutable: read each once

    def _commit_path(self, version: int) -> str:
        return f"{self.path}/_commits/{version:0{_VERSION_DIGITS}d}.json"

    def commits(self) -> list[Commit]:
        """Every commit, oldest first (listing the log, reading only commits not seen before)."""
        folder = f"{self.path}/_commits"
        self.fs.invalidate_cache(folder)  # other writers add commits: never trust a cached listing
        try:
            names = self.fs.ls(folder, detail=False)
        except FileNotFoundError:
            names = []
        versions = sorted(int(name.rsplit("/", 1)[-1][:-5]) for name in names
                          if name.endswith(".json") and name.rsplit("/", 1)[-1][:-5].isdigit())
        for version in versions:
            if version not in self._commits:
                self._commits[version] = Commit.from_json(self.fs.cat_file(self._commit_path(version)))
        return [self._commits[v] for v in versions]

    def files(self, as_of: datetime | None = None) -> list[str]:
        """Full paths of the data files that make up the table as of ``as_of`` (default: now)."""
        live: dict[str, None] = {}
        for commit in self.commits():
            if as_of is not None and commit.ingested_at > as_of:
                break
            for gone in commit.replaces:
                live.pop(gone, None)
            for name in commit.files:
                live[name] = None
        return [f"{self.path}/{name}" for name in live]

    def write_file(self, table: pa.Table) -> str:
        """Write one immutable data file (sorted by the caller); returns its name relative to the table."""
        name = f"data/{uuid.uuid4().hex}.parquet"
        self.fs.makedirs(f"{self.path}/data", exist_ok=True)
        buffer = io.BytesIO()
        pq.write_table(table, buffer, row_group_size=ROW_GROUP_ROWS, compression="zstd")
        self.fs.pipe_file(f"{self.path}/{name}", buffer.getvalue())
        return name

    def remove_file(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(f"{self.path}/{name}")

    def commit(self, commit: Commit) -> None:
        """Create commit ``commit.version`` exclusively; `CommitConflictError` if it already exists."""
        target = self._commit_path(commit.version)
        data = commit.to_json()
        if is_local(self.fs):
            folder = target.rsplit("/", 1)[0]
            os.makedirs(folder, exist_ok=True)
            partial = f"{folder}/.{uuid.uuid4().hex}.tmp"
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(partial, target)  # fails if the version exists: exclusive and all-or-nothing
            except FileExistsError as error:
                raise CommitConflictError(f"version {commit.version} of {self.path} exists") from error
            finally:
                os.unlink(partial)
            return
        try:
            self.fs.pipe_file(target, data, mode="create")
        except FileExistsError as error:
            raise CommitConflictError(f"version {commit.version} of {self.path} exists") from error
        self.fs.invalidate_cache(f"{self.path}/_commits")

    def next_stamp(self, now: datetime | None, last: Commit | None) -> datetime:
        """The next commit's ingestion time: ``now`` (UTC), nudged past the previous commit's if needed."""
        stamp = now or datetime.now(UTC)
        if stamp.tzinfo is None:
            raise ValueError(f"ingestion time ({stamp}) must be timezone-aware (UTC)")
        stamp = stamp.astimezone(UTC)
        if last is not None and stamp <= last.ingested_at:
            stamp = last.ingested_at + timedelta(microseconds=1)
        return stamp

    def orphans(self) -> list[str]:
        """Data files no commit names: left behind by writers that were killed or lost a race."""
        named: set[str] = set()
        for commit in self.commits():
            named.update(commit.files)
            named.update(commit.replaces)
        self.fs.invalidate_cache(f"{self.path}/data")
        try:
            present = self.fs.ls(f"{self.path}/data", detail=False)
        except FileNotFoundError:
            return []
        return sorted(p for p in present if f"data/{p.rsplit('/', 1)[-1]}" not in named)
