"""Monthly retraining: drift check, a challenger, a fair comparison, and promotion only if it is better.

Per asset, with the series as the store holds it now:

1. **Folds**: the last ``test_size`` points (default 3 horizons) are the comparison folds; nothing
   trained for this decision sees them.
2. **Drift**: `hpcast.pipelines.drift` (return-distribution shift and the champion's live error against
   its recorded backtest error). No drift and a champion in place: nothing to do (unless ``force``).
3. **Challenger**: trained by the same job as ``hpcast train`` on the data before the folds, logged to
   MLflow and registered with the alias ``challenger``.
4. **Comparison**: challenger, champion and naive forecast the same folds (the registered models are not
   refitted; naive uses each fold's history). MASE decides.
5. **Decision**: the ``champion`` alias moves to the challenger only if its MASE is lower (or there is no
   champion yet). The decision, its numbers and its reason are an MLflow run in ``hpcast-pipeline``.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from hpcast._io import atomic_write_json
from hpcast._uris import redact
from hpcast.config import RunConfig
from hpcast.data.frame import Dataset
from hpcast.pipelines.drift import DriftReport, return_shift

__all__ = ["PIPELINE_EXPERIMENT", "Decision", "decide", "retrain", "retrain_asset"]

PIPELINE_EXPERIMENT = "hpcast-pipeline"


@dataclass
class Decision:
    """What the pipeline did for one asset, and why."""

    asset: str
    action: str  # "promoted", "kept champion" or "skipped"
    reason: str
    drift: DriftReport
    mase: dict[str, float] = field(default_factory=dict)
    champion_version: int | None = None
    challenger_version: int | None = None
    run_id: str | None = None
    folder: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in dataclasses.asdict(self).items() if k != "drift"}, "drift": self.drift.to_dict()}


def decide(challenger: float, champion: float | None) -> tuple[bool, str]:
    """Promote only a strictly better challenger (lower MASE on the same folds); the first model always."""
    if champion is None:
        return True, f"no champion yet: the challenger (MASE {challenger:.3f}) becomes champion"
    if challenger < champion:
        return True, f"challenger MASE {challenger:.3f} < champion MASE {champion:.3f} on the same folds"
    return False, f"challenger MASE {challenger:.3f} >= champion MASE {champion:.3f}: champion kept"


def _mase(result: Any, model: str) -> float:
    return float(result.metrics.loc[model, "mase"])


def _live_error(series: pd.Series, freq: str, champion: Any, config: RunConfig, end: pd.Timestamp) -> float | None:
    """Champion's MASE on the folds after its training data ends (None when not one horizon has passed)."""
    from hpcast.evaluate.backtest import backtest

    h = champion.config.horizon
    unseen = int((series.index > end).sum())
    if unseen < h:
        return None
    live = dataclasses.replace(config, horizon=h, backtest=dataclasses.replace(config.backtest,
                                                                                test_size=unseen // h * h, step=h))
    return _mase(backtest(series, freq, live, models=(), fitted={"champion": champion}), "champion")


def _champion_and_drift(data: Dataset, registry: Any, config: RunConfig, recent: int, max_ratio: float,
                        alpha: float) -> tuple[int | None, Any, DriftReport]:
    """The champion (version and forecaster, or None) and the drift report against it."""
    from hpcast.registry import CHAMPION

    series, asset = data.series(), data.name
    champion_version = registry.version_by_alias(asset, CHAMPION)
    if champion_version is None:
        return None, None, return_shift(series, None, recent, alpha=alpha)
    champion = registry.load(asset, version=champion_version)
    tags = registry.version(asset, champion_version).tags
    recorded = float(tags["backtest_mase"]) if "backtest_mase" in tags else None
    trained = champion.data_info
    drift = return_shift(series, pd.Timestamp(trained["end"]), recent, reference_start=pd.Timestamp(trained["start"]),
                         alpha=alpha)
    drift.live_mase = _live_error(series, data.freq, champion, config, pd.Timestamp(trained["end"]))
    drift.recorded_mase = recorded
    if drift.live_mase is not None and recorded is not None:
        drift.degraded = drift.live_mase > max_ratio * recorded
    elif recorded is None:
        drift.notes = "; ".join(filter(None, [drift.notes, "champion has no recorded backtest MASE"]))
    return champion_version, champion, drift


def retrain_asset(data: Dataset, registry: Any, config: RunConfig, folder: Path, *, force: bool = False,
                  recent: int | None = None, max_ratio: float = 1.5, alpha: float = 0.01) -> Decision:
    """Run steps 1-5 of the module docstring for one asset; ``folder`` receives the challenger's run."""
    from hpcast.evaluate.backtest import backtest
    from hpcast.jobs import train_job

    asset, series, freq = data.name, data.series(), data.freq
    config = config.resolved(freq)
    h = config.horizon
    assert h is not None
    test_size = config.backtest.test_size or 3 * h
    config = dataclasses.replace(config, backtest=dataclasses.replace(config.backtest, test_size=test_size,
                                                                      step=config.backtest.step or h))
    cutoff = series.index[len(series) - test_size - 1]  # last date the challenger may learn from
    recent = recent or min(max(test_size, 60), len(series) // 4)  # enough returns for the KS test to mean something

    champion_version, champion, drift = _champion_and_drift(data, registry, config, recent, max_ratio, alpha)
    if champion is not None and not drift.drifted and not force:
        return Decision(asset, "skipped", "no drift detected (returns and live error within bounds)", drift,
                        champion_version=champion_version)

    history = data.frame[data.frame["date"] <= cutoff].reset_index(drop=True)
    train_data = dataclasses.replace(data, frame=history)
    challenger = train_job(train_data, config, folder, quiet=True)
    fitted = {"challenger": challenger, **({"champion": champion} if champion is not None else {})}
    result = backtest(series, freq, config, models=("naive",), fitted=fitted)
    mase = {name: _mase(result, name) for name in ("naive", *fitted)}
    promote, reason = decide(mase["challenger"], mase.get("champion"))
    if champion is not None and pd.Timestamp(champion.data_info["end"]) > cutoff:
        reason += " (note: the champion was trained on some of these folds, which favours it)"
    if not drift.drifted:
        reason = f"retrain forced without drift; {reason}" if force else reason

    run_id = registry.log_training(folder, asset, tags={"hpcast.pipeline": "retrain"})
    version = registry.register(run_id, asset, tags={"backtest_mase": f"{mase['challenger']:.6f}",
                                                     "naive_mase": f"{mase['naive']:.6f}",
                                                     "data_end": cutoff.date().isoformat(),
                                                     "folds": ",".join(result.origins)})
    if promote:
        registry.promote(asset, version)
    decision = Decision(asset, "promoted" if promote else "kept champion", reason, drift, mase,
                        champion_version=champion_version, challenger_version=version, folder=str(folder))
    atomic_write_json(folder / "decision.json", decision.to_dict())
    return decision


def retrain(store: Any, registry: Any, assets: list[str] | None, config: RunConfig, root: Path, *,
            force: bool = False, progress: Any = None) -> list[Decision]:
    """`retrain_asset` for each asset (default: every prices symbol in the store), each decision logged."""
    symbols = store.symbols("prices")["symbol"].tolist()
    assets = assets or symbols
    unknown = sorted(set(assets) - set(symbols))
    if unknown:
        raise ValueError(f"asset(s) {unknown} must be prices symbols in the store ({', '.join(symbols) or 'none'})")
    decisions = []
    for asset in assets:
        if progress:
            progress(asset)
        decision = retrain_asset(store.dataset(asset), registry, config, root / asset, force=force)
        decision.run_id = registry.log_run(
            PIPELINE_EXPERIMENT, f"retrain-{asset}",
            params={"asset": asset, "force": force, "store": redact(store.url)},
            metrics={**{f"mase_{k}": v for k, v in decision.mase.items()},
                     **{k: v for k, v in decision.drift.to_dict().items()
                        if isinstance(v, float | int | bool) and v is not None}},
            tags={"hpcast.asset": asset, "hpcast.decision": decision.action, "hpcast.reason": decision.reason,
                  "hpcast.champion_version": str(decision.champion_version),
                  "hpcast.challenger_version": str(decision.challenger_version),
                  "hpcast.drift": json.dumps(decision.drift.to_dict())})
        decisions.append(decision)
    return decisions
