"""The daily pipeline: bring every asset in the store up to date, and say what changed.

Safe to re-run: the store writes only new or revised rows, so a second run of the same day changes
nothing. Each run appends one JSON line to ``<data>/pipeline.log`` (what ran, what changed, rejects), so
an unattended schedule leaves a trail.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from hpcast._uris import redact

__all__ = ["daily"]


def daily(store: Any, assets: list[str] | None = None, *, source: str | None = None,
          until: str | date | None = None, log: Path | None = None, progress: Any = None) -> list[Any]:
    """`hpcast.store.ingest.update` for ``assets`` (default all), logged to ``log``; returns the reports."""
    from hpcast.store.ingest import update

    started = datetime.now(UTC)
    reports = update(store, assets, source=source, until=until, progress=progress)
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        entry = {"pipeline": "daily", "started": started.isoformat(timespec="seconds"), "store": redact(store.url),
                 "until": str(until) if until else None,
                 "assets": {r.group: {"written": r.written, "unchanged": r.unchanged, "rejected": len(r.rejected),
                                      "derived": r.derived, "commit": r.version, "error": r.error or None,
                                      "revision": r.revision or None}
                            for r in reports}}
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    return reports
