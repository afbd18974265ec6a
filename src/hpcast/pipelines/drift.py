"""Drift checks before retraining: have returns changed, and is the champion doing worse live than in tests?

Two independent signals, either of which triggers a retrain:

- **distribution shift**: a two-sample Kolmogorov-Smirnov test of the recent log-returns against those of
  the champion's training span (p below ``alpha`` means the recent returns are unlikely to come from the
  same distribution);
- **live error**: the champion's MASE on the data it has not seen (after its training end), against the
  MASE its backtest recorded when it was registered (a ratio above ``max_ratio`` means it degraded).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

__all__ = ["DriftReport", "return_shift"]


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

    Without a reference span (no champion yet) the reference is everything before the recent window.
    """
    from scipy.stats import ks_2samp

    returns = np.log(series).diff().dropna()
    latest = returns.iloc[-recent:]
    reference = returns.iloc[:-recent] if reference_end is None else returns.loc[reference_start:reference_end]
    report = DriftReport(recent_points=len(latest), reference_points=len(reference))
    if len(latest) < 10 or len(reference) < 10:
        report.notes = f"too few returns for a KS test ({len(latest)} recent, {len(reference)} reference)"
        return report
    result = ks_2samp(latest.to_numpy(), reference.to_numpy())
    report.ks_statistic, report.ks_pvalue = float(result.statistic), float(result.pvalue)
    report.shifted = report.ks_pvalue < alpha
    return report
