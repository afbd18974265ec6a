"""The honesty check for the simulator itself: do realised outcomes fall inside its bands as often as promised?

For as-of dates every ``every`` business days through the bundled history, the simulator (the same
function the app serves, champions included where they had not yet seen the as-of date) predicts the real
portfolio value at the horizon. The realised value uses the prices on the horizon date and the CPI actually
published for it (log-linear between monthly or quarterly readings). Reported: the share inside the 90%
band (goal 85-95%), the coverage of every central band (the reliability curve) and the PIT values, and
the same **by regime**: the coverage of the 50%, 80% and 90% bands and the PIT histogram per tercile of
the as-of dates' volatility (the allocation's realised volatility over the 21 trading days up to each
as-of date, `hpcast.invest.conditional.rolling_volatility`; terciles among the dates checked), and per
stress window of the bundled data (`STRESS`: an as-of date belongs to a window when its horizon overlaps
it, i.e. the investor held through the storm).
Horizons of consecutive as-of dates overlap, so the dates are not independent trials: read the shares with
that in mind, and the stress windows' small counts too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpcast._io import atomic_write_json
from hpcast.invest.market import CASH, Market
from hpcast.invest.outlook import Outlooks
from hpcast.invest.simulate import plan, simulate

__all__ = ["GOAL", "LEVELS", "REGIME_LEVELS", "STRESS", "Calibration", "calibrate", "load_calibration",
           "realised_cpi", "save_calibration"]

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
REGIME_LEVELS = (0.5, 0.8, 0.9)  # the bands reported per regime
GOAL = (0.85, 0.95)
PIT_BINS = 10
# the stress windows of the bundled data: name -> (first, last day); bitcoin's own only where it is held
STRESS = {"2008-09 crisis": ("2008-01-01", "2009-12-31"), "Q4 2018": ("2018-10-01", "2018-12-31"),
          "bitcoin 2018 crash": ("2018-01-01", "2018-12-31"), "bitcoin 2021 drawdown": ("2021-04-14", "2021-07-20")}
_BITCOIN = "bitcoin"
FILE, FIGURE = "calibration.json", "reliability.png"


@dataclass
class Calibration:
    """Realised real returns against the simulator's predictions over many past as-of dates."""

    allocation: dict[str, float]
    months: int
    paths: int
    dates: list[str] = field(default_factory=list)
    realised: list[float] = field(default_factory=list)  # real return at the horizon
    p5: list[float] = field(default_factory=list)
    p95: list[float] = field(default_factory=list)
    median: list[float] = field(default_factory=list)
    pit: list[float] = field(default_factory=list)  # share of simulated outcomes at or below the realised one
    sources: list[str] = field(default_factory=list)
    trailing_vol: list[float] = field(default_factory=list)  # the allocation's 21-day volatility at each as-of
    ends: list[str] = field(default_factory=list)  # each as-of date's horizon end
    noise: str = "filtered"
    created: str = ""

    @property
    def inside_90(self) -> float:
        return float(np.mean([lo <= r <= hi for r, lo, hi in zip(self.realised, self.p5, self.p95, strict=True)]))

    def coverage(self) -> dict[str, float]:
        """Share of realised outcomes inside each central band, from the PIT values."""
        pit = np.asarray(self.pit)
        return {f"{level:g}": float(np.mean(np.abs(pit - 0.5) <= level / 2)) for level in LEVELS}

    def regimes(self) -> dict[str, dict[str, Any]]:
        """Per volatility tercile of the as-of dates (low, mid, high): dates, coverage of `REGIME_LEVELS` and the
        PIT histogram (`PIT_BINS` equal bins, shares)."""
        from hpcast.evaluate.scores import REGIMES, volatility_terciles

        terciles = volatility_terciles(np.asarray(self.trailing_vol, dtype=float))
        vol = np.asarray(self.trailing_vol, dtype=float)
        out = {}
        for k, name in enumerate(REGIMES):
            chosen = terciles == k
            out[name] = {**_summary(np.asarray(self.pit)[chosen]),
                         "volatility_range": [float(vol[chosen].min()), float(vol[chosen].max())] if chosen.any()
                         else None}
        return out

    def stress(self) -> dict[str, dict[str, Any]]:
        """Per stress window the allocation met (`STRESS`: the markets' for every allocation, bitcoin's where it
        is held), the as-of dates whose horizon overlaps it."""
        pit = np.asarray(self.pit)
        starts, ends = pd.to_datetime(self.dates), pd.to_datetime(self.ends)
        out = {}
        for name, (first, last) in STRESS.items():
            if name.startswith(_BITCOIN) and _BITCOIN not in self.allocation:
                continue
            chosen = np.asarray((starts <= pd.Timestamp(last)) & (ends >= pd.Timestamp(first)))
            if chosen.any():
                out[name] = {**_summary(pit[chosen]), "window": [first, last]}
        return out

    def headline(self) -> str:
        share = self.inside_90
        verdict = ("within the goal" if GOAL[0] <= share <= GOAL[1] else
                   "bands too narrow: outcomes are more spread than predicted" if share < GOAL[0] else
                   "bands too wide: outcomes are less spread than predicted")
        mix = ", ".join(f"{k} {v:g}%" for k, v in self.allocation.items())
        return (f"{share:.0%} of {len(self.dates)} realised real returns fell inside the predicted 90% band "
                f"(goal {GOAL[0]:.0%}-{GOAL[1]:.0%}: {verdict}); {mix}, {self.months} months, as-of dates "
                f"{self.dates[0]} to {self.dates[-1]}")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "inside_90": self.inside_90, "coverage": self.coverage(), "goal": list(GOAL),
                "headline": self.headline(), "regimes": self.regimes(), "stress": self.stress(),
                "regime_headline": self.regime_headline()}

    def regime_headline(self) -> str:
        """The 90% band's coverage per volatility tercile and stress window, in one sentence."""
        parts = [f"{name} volatility {row['coverage']['0.9']:.0%} of {row['dates']}"
                 for name, row in self.regimes().items() if row["dates"]]
        parts += [f"{name} {row['coverage']['0.9']:.0%} of {row['dates']}" for name, row in self.stress().items()]
        return "90% band by regime of the as-of date: " + "; ".join(parts)


def _summary(pit: np.ndarray) -> dict[str, Any]:
    """Dates, coverage of each `REGIME_LEVELS` band and the PIT histogram of ``pit``."""
    if not len(pit):
        return {"dates": 0, "coverage": {f"{level:g}": None for level in REGIME_LEVELS}, "pit_histogram": None}
    counts, _ = np.histogram(pit, bins=PIT_BINS, range=(0.0, 1.0))
    return {"dates": len(pit),
            "coverage": {f"{level:g}": float(np.mean(np.abs(pit - 0.5) <= level / 2)) for level in REGIME_LEVELS},
            "pit_histogram": [float(c) for c in counts / len(pit)]}


def realised_cpi(series: pd.Series, moment: pd.Timestamp) -> float | None:
    """CPI at ``moment``, log-linear between period-start readings (None past the last reading)."""
    if moment < series.index[0] or moment > series.index[-1]:
        return None
    x = pd.DatetimeIndex(series.index).as_unit("ns").asi8.astype(np.float64)
    return float(np.exp(np.interp(float(moment.as_unit("ns").value), x, np.log(series.to_numpy()))))


def calibrate(market: Market, outlooks: Outlooks, allocation: dict[str, float], *, months: int = 6,
              every: int = 21, paths: int = 2000, noise: str = "filtered",
              progress: Callable[[int, int], None] | None = None) -> Calibration:
    """Predict and compare at as-of dates ``every`` business days apart (see the module docstring), with the
    simulator's ``noise`` (`hpcast.invest.simulate.NOISE`)."""
    first = plan(market, 1.0, allocation, months)  # validates; its window is the range of possible dates
    cpi_name = max(market.cpi, key=lambda n: market.cpi[n].index[-1])
    cpi = market.cpi[cpi_name]
    names = [n for n in first.weights if n != CASH]
    horizon_end_limit = min([market.prices[n].index[-1] for n in names] + [cpi.index[-1]])
    candidates = pd.bdate_range(first.window.first, first.window.last)[::every]
    candidates = [d for d in candidates if d + pd.DateOffset(months=months) <= horizon_end_limit]
    if len(candidates) < 10:
        raise ValueError(f"only {len(candidates)} as-of dates leave {months} months of realised prices and CPI "
                         f"for {', '.join(first.weights)}: use a shorter horizon or fewer assets")
    result = Calibration({k: v * 100 for k, v in first.weights.items()}, months, paths, noise=noise,
                         created=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"))
    for i, day in enumerate(candidates):
        if progress:
            progress(i, len(candidates))
        request = plan(market, 1.0, allocation, months, day.date().isoformat())
        sim = simulate(market, outlooks, request, paths=paths, noise=noise)
        end = sim.horizon_end
        nominal = sum(weight * _realised_growth(market, name, day, end, sim)
                      for name, weight in request.weights.items())
        cpi_ratio = realised_cpi(cpi, end) / realised_cpi(cpi, day)  # type: ignore[operator]
        real = nominal / cpi_ratio
        outcomes = sim.real[:, -1]
        lo, med, hi = np.quantile(outcomes, (0.05, 0.5, 0.95))
        result.dates.append(day.date().isoformat())
        result.realised.append(float(real - 1))
        result.p5.append(float(lo - 1))
        result.median.append(float(med - 1))
        result.p95.append(float(hi - 1))
        result.pit.append(float(np.mean(outcomes <= real)))
        result.sources.append(",".join(o.source for o in sim.outlooks.values()))
        result.trailing_vol.append(float(sim.regime["annual_volatility"]) if sim.regime else 0.0)
        result.ends.append(end.date().isoformat())
    return result


def _realised_growth(market: Market, name: str, day: pd.Timestamp, end: pd.Timestamp, sim: Any) -> float:
    if name == CASH:
        return 1.0 + float(sim.asset_returns[CASH][0])  # the rate known on the day, as predicted
    prices = market.prices[name]
    return float(prices[:end].iloc[-1] / prices[:day].iloc[-1])


def save_calibration(result: Calibration, folder: Path) -> tuple[Path, Path]:
    """Write ``calibration.json`` and ``reliability.png`` into ``folder`` (what the app shows)."""
    from hpcast.viz.invest import reliability_figure

    answer = result.to_dict()
    atomic_write_json(Path(folder) / FILE, answer)
    return Path(folder) / FILE, reliability_figure(answer, Path(folder) / FIGURE)


def load_calibration(folder: Path) -> tuple[dict[str, Any], Path] | None:
    """The saved calibration and its figure, or None when `hpcast invest calibrate` has not run."""
    path = Path(folder) / FILE
    if not path.exists():
        return None
    return json.loads(path.read_text()), Path(folder) / FIGURE
