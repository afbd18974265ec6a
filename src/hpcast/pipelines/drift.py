"""Drift checks before retraining: have returns changed, and is the champion doing worse live than in tests?

Two independent signals, either of which triggers a retrain:

- **distribution shift**: a two-sample Kolmogorov-Smirnov test of the recent log-returns against those of
  the champion's training span (p below ``alpha`` means the recent returns are unlikely to come from the
  same distribution). The recent window holds only returns after the champion's training end, never one it
  was trained on; fewer than 10 of them is too few for the test, and the report's notes say so;
- **live error**: the champion's MASE on the data it has not seen (after its training end), against the
  MASE its backtest recorded when it was registered (a ratio above ``max_ratio`` means it degraded).

A global model's panel is checked series by series (`panel_shift`): it shifted when any series did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from hpcast.data.panel import Panel

__all__ = ["DriftReport", "panel_shift", "return_shift"]


@dataclass
class DriftReport:
    ks_statistic: float | None = None
    ks_pvalue: float | None = None
    recent_points: int = 0
    reference_points: int = 0
    live_mase: float | None = None
    recorded_mase: float | None = None
    shifted: bool = False
    degraded: bool = False
    notes: str = ""

    @property
    def drifted(self) -> bool:
        return self.shifted or self.degraded

    def summary(self) -> str:
        found = []
        if self.shifted:
            found.append(f"returns shifted (KS p={self.ks_pvalue:.2g})")
        if self.degraded:
            found.append(f"live MASE {self.live_mase:.2f} > 1.5 x backtest {self.recorded_mase:.2f}")
        return "; ".join(found) or "none"

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "drifted": self.drifted}


def return_shift(series: pd.Series, reference_end: pd.Timestamp | None, recent: int, *,
                 reference_start: pd.Timestamp | None = None, alpha: float = 0.01) -> DriftReport:
    """KS test of the last ``recent`` log-returns against those in ``[reference_start, reference_end]``.

    With a reference span (the champion's training data) the recent window takes only returns dated after
    ``reference_end``, so it never overlaps the span. Without one (no champion yet) the reference is
    everything before the recent window.
    """
    from scipy.stats import ks_2samp

    returns = np.log(series).diff().dropna()
    if reference_end is None:
        latest, reference = returns.iloc[-recent:], returns.iloc[:-recent]
    else:
        latest = returns.loc[returns.index > reference_end].iloc[-recent:]
        reference = returns.loc[reference_start:reference_end]
    report = DriftReport(recent_points=len(latest), reference_points=len(reference))
    if reference_end is not None and len(latest) < 10:
        report.notes = (f"only {len(latest)} returns after the champion's training end ({reference_end.date()}): "
                        "too few for a KS test (10 needed), and returns it was trained on are never the recent window")
        return report
    if len(latest) < 10 or len(reference) < 10:
        report.notes = f"too few returns for a KS test ({len(latest)} recent, {len(reference)} reference)"
        return report
    result = ks_2samp(latest.to_numpy(), reference.to_numpy())
    report.ks_statistic, report.ks_pvalue = float(result.statistic), float(result.pvalue)
    report.shifted = report.ks_pvalue < alpha
    return report


def panel_shift(panel: Panel, reference_end: pd.Timestamp | None, recent: int, *,
                reference_start: pd.Timestamp | None = None, alpha: float = 0.01) -> DriftReport:
    """`return_shift` of every series of ``panel``; one series gives exactly its report.

    Several give one report: shifted when any series' returns shifted (named in the notes), the KS
    statistic and p-value of the series with the lowest p-value, points summed over the series, and
    each series' notes prefixed with its symbol.
    """
    reports = {symbol: return_shift(panel.series(symbol), reference_end, recent, reference_start=reference_start,
                                    alpha=alpha) for symbol in panel.symbols}
    if len(reports) == 1:
        return next(iter(reports.values()))
    tested = [report for report in reports.values() if report.ks_pvalue is not None]
    worst = min(tested, key=lambda report: report.ks_pvalue or 0.0) if tested else DriftReport()
    shifted = [symbol for symbol, report in reports.items() if report.shifted]
    notes = [f"{symbol}: {report.notes}" for symbol, report in reports.items() if report.notes]
    if shifted:
        notes.insert(0, f"returns shifted for {', '.join(shifted)}")
    return DriftReport(ks_statistic=worst.ks_statistic, ks_pvalue=worst.ks_pvalue,
                       recent_points=sum(r.recent_points for r in reports.values()),
                       reference_points=sum(r.reference_points for r in reports.values()),
                       shifted=bool(shifted), notes="; ".join(notes))
