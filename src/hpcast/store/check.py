"""`hpcast store validate`: re-check what is stored, without trusting the writers that put it there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from hpcast.store.derived import derive
from hpcast.store.schema import GROUPS, validate
from hpcast.store.store import FeatureStore

__all__ = ["Findings", "check_store"]


@dataclass
class Findings:
    facts: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    derived_out_of_step: bool = False

    def lines(self) -> list[str]:
        return ([f"ok: {f}" for f in self.facts] + [f"note: {n}" for n in self.notes]
                + [f"PROBLEM: {p}" for p in self.problems])


def check_store(store: FeatureStore) -> Findings:
    """Every data file readable; every newest row passing its group's rules; derived groups equal to a
    fresh computation from the stored prices; orphaned files and quarantined rows counted."""
    findings = Findings()
    today = datetime.now(UTC).date()
    for name in ("prices", "macro"):
        rows = store.read(group=name)
        known = set(store.symbols(name)["symbol"])
        _, rejected = validate(GROUPS[name], rows.drop(columns="ingested_at"), known, today)
        if len(rejected):
            findings.problems += [f"{name}: stored row {r.symbol} {r.date} breaks a rule: {r.reason}"
                                  for r in rejected.head(20).itertuples()]
        else:
            findings.facts.append(f"{name}: {len(rows)} rows of {rows['symbol'].nunique()} symbols pass every rule")
    prices = store.read(group="prices")
    expected = derive(prices)
    for name in ("returns", "moving_averages"):
        stored = store.read(group=name)
        columns = list(GROUPS[name].columns)
        merged = expected[["symbol", "date", *columns]].merge(stored, on=["symbol", "date"], how="outer",
                                                              suffixes=("", "_stored"), indicator=True)
        missing = int((merged["_merge"] != "both").sum())
        differs = 0
        for column in columns:
            a, b = merged[column].to_numpy(), merged[f"{column}_stored"].to_numpy()
            differs += int((~(np.isclose(a, b, rtol=1e-12) | (np.isnan(a) & np.isnan(b))))[
                merged["_merge"].to_numpy() == "both"].sum())
        if missing or differs:
            findings.derived_out_of_step = True
            findings.problems.append(f"{name}: {missing} rows missing or extra and {differs} values differ from a "
                                     "fresh computation (`hpcast store validate --repair` recomputes them)")
        else:
            findings.facts.append(f"{name}: {len(stored)} rows equal a fresh computation from prices")
    for name in GROUPS:
        orphans = store.table(name).orphans()
        if orphans:
            findings.notes.append(f"{name}: {len(orphans)} data file(s) no commit names (left by interrupted "
                                  "writers; never read)")
    quarantined = store.quarantine()
    if len(quarantined):
        findings.notes.append(f"{len(quarantined)} rows in the quarantine (`hpcast store show --quarantine`)")
    return findings
