"""Monthly retraining: drift check, a challenger, a fair comparison, and promotion only if it is better.

Per registered model that serves the assets asked for (`hpcast.registry.Registry.resolve`): an asset with
a champion of its own, or with no model at all, is retrained on its own series; an asset served only by a
**global** champion (one network over a panel of several symbols) retrains that global model, once for all
the assets it covers, on the panel of every symbol its champion was fitted on, as the store holds them now.
Its challenger is a global model fitted on the same symbols, registered under the same key, and champion,
challenger and naive are compared on the same folds of that panel, MASE pooled over its series. "Points"
below are dates on the data's time axis (every date any of its series has), as in the backtest; on one
series that is its points. A model's training end is the last date of any series it was fitted on (a
global model's weights saw all of them), so folds after it are unseen by every part of it. With that data:

1. **Live skill**: the champion (however it was registered) forecasts the whole horizons after its
   training end, naive beside it; the scores go on its model version (``live_mase``, ``live_naive_mase``,
   ``live_points``, ``live_through``) once at least one horizon has passed.
2. **Drift**: `hpcast.pipelines.drift` (the returns after the champion's training end against those of
   its training span, and its live error against its recorded backtest error). No drift and a champion
   in place: nothing to do (unless ``force``).
3. **Folds**: the last ``test_size`` points (default 3 horizons), as whole horizons after *both* training
   ends: when the champion was trained on some of them, only the points after its training end are used.
   Less than one horizon of those: no fair comparison, the champion is kept and no challenger is trained.
   A champion trained for fewer steps than the challenger's horizon cannot forecast the folds: that
   asset fails, with the reason.
4. **Challenger**: trained by the same job as ``hpcast train`` on the data before the folds, logged to
   MLflow and registered with the alias ``challenger``.
5. **Comparison**: challenger, champion and naive forecast the same folds on the challenger's horizon
   (the registered models are not refitted; naive uses each fold's history). MASE decides. Each version
   compared is tagged ``beats_naive`` (with ``compared_mase`` and ``compared_naive_mase``), and the
   decision says when neither beat naive.
6. **Decision**: the ``champion`` alias moves to the challenger only if its MASE is lower (or there is no
   champion yet). The decision, its numbers and its reason are an MLflow run in ``hpcast-pipeline``.

`retrain` goes through every asset: one asset's failure becomes its decision (``failed``, with the
reason) and the others go on; a registry that cannot answer stops the run, since every asset needs it.
A global model's drift check runs per series: it drifted when any of its series' returns shifted, or when
its pooled live MASE degraded.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpcast._io import atomic_write_json
from hpcast._uris import redact
from hpcast.config import RunConfig
from hpcast.data.frame import Dataset
from hpcast.data.panel import Panel
from hpcast.pipelines.drift import DriftReport, panel_shift

__all__ = ["PIPELINE_EXPERIMENT", "Decision", "backtest_tags", "decide", "retrain", "retrain_asset", "retrain_model"]

PIPELINE_EXPERIMENT = "hpcast-pipeline"

log = logging.getLogger(__name__)


@dataclass
class Decision:
    """What the pipeline did for one registered model, and why.

    ``asset`` is the model's key: the asset, or a global model's name (``symbols`` then lists the series it
    was retrained on). ``folds`` are the comparison folds' origins (each fold forecasts the points after its
    origin date); ``none_beat_naive`` is True when no model compared had a MASE below naive's on those folds.
    """

    asset: str
    action: str  # "promoted", "kept champion", "skipped" or "failed"
    reason: str
    drift: DriftReport = field(default_factory=DriftReport)
    mase: dict[str, float] = field(default_factory=dict)
    folds: list[str] = field(default_factory=list)
    none_beat_naive: bool = False
    champion_version: int | None = None
    challenger_version: int | None = None
    run_id: str | None = None
    folder: str | None = None
    symbols: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in dataclasses.asdict(self).items() if k != "drift"}, "drift": self.drift.to_dict()}


def decide(challenger: float, champion: float | None) -> tuple[bool, str]:
    """Promote only a strictly better challenger (lower MASE on the same folds); the first model always."""
    if champion is None:
        return True, f"no champion yet: the challenger (MASE {challenger:.3f}) becomes champion"
    if challenger < champion:
        return True, f"challenger MASE {challenger:.3f} < champion MASE {champion:.3f} on the same folds"
    return False, f"challenger MASE {challenger:.3f} >= champion MASE {champion:.3f}: champion kept"


def backtest_tags(data: Panel | pd.Series, freq: str | None, config: RunConfig, *,
                  progress: Any = None) -> dict[str, str]:
    """The skill tags a version is registered with: a walk-forward backtest of its configuration and naive.

    The model (``config.kind``) is refitted on each fold's history (`hpcast.evaluate.walkforward`, default
    folds unless ``config.backtest`` sets them), so the figures are for data it had not seen. ``data`` is
    one series sampled at ``freq``, or a panel (one global model refitted per fold; MASE pooled over its
    series, the same folds for every series).

    Example:
        >>> backtest_tags(load_bundled("air_passengers").series(), "MS", RunConfig())  # doctest: +SKIP
        {'backtest_mase': '0.912345', 'naive_mase': '1.000000', 'folds': '1960-06-01,1960-09-01'}
    """
    from hpcast.evaluate.walkforward import backtest

    model = config.kind
    result = backtest(data, freq, config, models=tuple(dict.fromkeys((model, "naive"))), progress=progress)
    return {"backtest_mase": f"{_mase(result, model):.6f}", "naive_mase": f"{_mase(result, 'naive'):.6f}",
            "folds": ",".join(result.origins)}


def _mase(result: Any, model: str) -> float:
    return float(result.metrics.loc[model, "mase"])


def _trained_end(forecaster: Any) -> pd.Timestamp:
    """The last date of any series the model was fitted on (a global model's weights saw all of them)."""
    return pd.Timestamp(forecaster.data_info["end"])


def _axis(panel: Panel) -> pd.DatetimeIndex:
    """Every date any series of ``panel`` has, sorted: the dates folds are counted on."""
    return pd.DatetimeIndex(np.unique(panel.dates))


def _unseen(panel: Panel, forecaster: Any) -> int:
    """Dates of ``panel`` after the forecaster's training data."""
    return int((_axis(panel) > _trained_end(forecaster)).sum())


def _live_skill(panel: Panel, champion: Any) -> dict[str, str] | None:
    """The champion's and naive's MASE on the whole horizons after its training end, as version tags
    (None until one horizon has passed). The champion forecasts its own horizon."""
    from hpcast.config import BacktestConfig
    from hpcast.evaluate.walkforward import backtest

    h = champion.config.horizon
    points = min(_unseen(panel, champion), int(panel.lengths.min()) - getattr(champion, "min_history", 1)) // h * h
    if points < h:
        return None
    live = RunConfig(horizon=h, backtest=BacktestConfig(test_size=points, step=h))
    result = backtest(panel, None, live, models=("naive",), fitted={"champion": champion})
    return {"live_mase": f"{_mase(result, 'champion'):.6f}", "live_naive_mase": f"{_mase(result, 'naive'):.6f}",
            "live_points": str(points), "live_through": _axis(panel)[-1].date().isoformat()}


def _champion_and_drift(panel: Panel, key: str, registry: Any, recent: int, max_ratio: float,
                        alpha: float) -> tuple[int | None, Any, DriftReport]:
    """The champion of ``hpcast-<key>`` (version and forecaster, or None) and the drift report against it;
    its live skill is written on its version."""
    from hpcast.registry import CHAMPION

    version = registry.version_by_alias(key, CHAMPION)
    if version is None:
        return None, None, panel_shift(panel, None, recent, alpha=alpha)
    champion = registry.load(key, version=version)
    recorded = registry.version(key, version).tags.get("backtest_mase")
    drift = panel_shift(panel, _trained_end(champion), recent,
                        reference_start=pd.Timestamp(champion.data_info["start"]), alpha=alpha)
    drift.recorded_mase = None if recorded is None else float(recorded)
    notes = [drift.notes]
    live = _live_skill(panel, champion)
    if live is None:
        notes.append(f"no live error yet: less than one horizon ({champion.config.horizon}) after the champion's "
                     "training end")
    else:
        registry.set_tags(key, version, live)
        drift.live_mase = float(live["live_mase"])
    if drift.recorded_mase is None:
        notes.append("champion has no recorded backtest MASE")
    elif drift.live_mase is not None:
        drift.degraded = drift.live_mase > max_ratio * drift.recorded_mase
    drift.notes = "; ".join(filter(None, notes))
    return version, champion, drift


def _comparison_points(panel: Panel, config: RunConfig, champion: Any) -> int:
    """Points at the end of ``panel`` to compare on: ``test_size``, cut to the whole horizons after the
    champion's training end when it was trained on some of them (0 when not one horizon is left)."""
    test_size, h = config.backtest.test_size, config.horizon
    assert test_size is not None and h is not None
    if champion is None:
        return test_size
    unseen = _unseen(panel, champion)
    return test_size if unseen >= test_size else unseen // h * h


def _refusal(panel: Panel, config: RunConfig, version: int | None, champion: Any,
             points: int) -> tuple[str, str] | None:
    """Why this champion and a challenger cannot be compared fairly (action, reason); None when they can."""
    h = config.horizon
    if champion is None:
        return None
    own = champion.config.horizon
    if own < h:  # a model forecasts at most its own horizon
        return "failed", (f"the champion (v{version}) forecasts {own} steps, fewer than the challenger's horizon "
                          f"({h}): they cannot forecast the same folds; retrain with a --horizon of at most {own}, "
                          f"or promote a champion trained for {h} steps or more")
    if points < h:
        return "kept champion", (f"no fair comparison: the champion (v{version}) was trained through "
                                 f"{_trained_end(champion).date()}, and only {_unseen(panel, champion)} point(s) "
                                 f"came after it, fewer than one horizon ({h}); no challenger was trained, since "
                                 "it could only be compared on folds the champion saw")
    return None


def _naive_tags(mase: dict[str, float], model: str) -> dict[str, str]:
    """Tags for one compared version: did it beat naive on the comparison folds, and by how much."""
    return {"beats_naive": str(mase[model] < mase["naive"]).lower(), "compared_mase": f"{mase[model]:.6f}",
            "compared_naive_mase": f"{mase['naive']:.6f}"}


def _comparison_reason(reason: str, naive: float, origins: list[str], has_champion: bool, none_beat: bool) -> str:
    """``reason`` with the folds it was decided on, and whether any model beat naive (MASE ``naive``) there."""
    folds = f"{len(origins)} fold{'s' if len(origins) != 1 else ''} from {origins[0]}"
    trained = "both models'" if has_champion else "the challenger's"
    reason = f"{reason} ({folds}, after {trained} training data)"
    if none_beat:
        who = "neither model beat" if has_champion else "the challenger did not beat"
        reason += f"; {who} naive (MASE {naive:.3f}) on these folds"
    return reason


def _challenge(panel: Panel, key: str, registry: Any, config: RunConfig, folder: Path,
               champion_version: int | None, champion: Any, drift: DriftReport, forced: bool) -> Decision:
    """Steps 4-6: train the challenger before the folds, compare on them, register, tag, maybe promote."""
    from hpcast.evaluate.walkforward import backtest
    from hpcast.jobs import train_job

    assert config.backtest.test_size is not None
    axis = _axis(panel)
    cutoff = axis[len(axis) - config.backtest.test_size - 1]  # last date the challenger may learn from
    challenger = train_job(panel.until(cutoff), config, folder, quiet=True)
    fitted = {"challenger": challenger, **({"champion": champion} if champion is not None else {})}
    result = backtest(panel, None, config, models=("naive",), fitted=fitted)
    mase = {name: _mase(result, name) for name in ("naive", *fitted)}
    none_beat = all(mase[name] >= mase["naive"] for name in fitted)
    promote, reason = decide(mase["challenger"], mase.get("champion"))
    reason = _comparison_reason(reason, mase["naive"], result.origins, champion is not None, none_beat)
    reason = f"retrain forced without drift; {reason}" if forced else reason

    run_id = registry.log_training(folder, key, tags={"hpcast.pipeline": "retrain"})
    version = registry.register(run_id, key, tags={"backtest_mase": f"{mase['challenger']:.6f}",
                                                   "naive_mase": f"{mase['naive']:.6f}",
                                                   "data_end": cutoff.date().isoformat(),
                                                   "folds": ",".join(result.origins),
                                                   **_naive_tags(mase, "challenger")})
    if champion_version is not None:
        registry.set_tags(key, champion_version, _naive_tags(mase, "champion"))
    if promote:
        registry.promote(key, version)
    decision = Decision(key, "promoted" if promote else "kept champion", reason, drift, mase, result.origins,
                        none_beat, champion_version=champion_version, challenger_version=version, folder=str(folder),
                        symbols=list(panel.symbols))
    atomic_write_json(folder / "decision.json", decision.to_dict())
    return decision


def retrain_model(panel: Panel, key: str, registry: Any, config: RunConfig, folder: Path, *, force: bool = False,
                  recent: int | None = None, max_ratio: float = 1.5, alpha: float = 0.01) -> Decision:
    """Run steps 1-6 of the module docstring for the registered model ``hpcast-<key>`` on ``panel`` (the
    asset's series, or every series a global model covers); ``folder`` receives the challenger's run.

    Example:
        >>> retrain_model(panel, "global-tech", Registry(), RunConfig(), Path("runs/r/global-tech"))  # doctest: +SKIP
    """
    config = config.resolved(panel.freq)
    h = config.horizon
    assert h is not None
    config = dataclasses.replace(config, backtest=dataclasses.replace(
        config.backtest, test_size=config.backtest.test_size or 3 * h, step=config.backtest.step or h))
    test_size = config.backtest.test_size
    shortest = int(panel.lengths.min())
    recent = recent or min(max(test_size, 60), shortest // 4)  # enough returns for the KS test to mean something
    symbols = list(panel.symbols)

    version, champion, drift = _champion_and_drift(panel, key, registry, recent, max_ratio, alpha)
    if champion is not None and not drift.drifted and not force:
        return Decision(key, "skipped", "no drift detected (returns and live error within bounds)", drift,
                        champion_version=version, symbols=symbols)
    points = _comparison_points(panel, config, champion)
    refused = _refusal(panel, config, version, champion, points)
    if refused is not None:
        return Decision(key, *refused, drift, champion_version=version, symbols=symbols)
    config = dataclasses.replace(config, backtest=dataclasses.replace(config.backtest, test_size=points))
    return _challenge(panel, key, registry, config, folder, version, champion, drift, force and not drift.drifted)


def retrain_asset(data: Dataset, registry: Any, config: RunConfig, folder: Path, **options: Any) -> Decision:
    """`retrain_model` for one asset's own model (``hpcast-<asset>``) on its series."""
    return retrain_model(Panel.from_dataset(data), data.name, registry, config, folder, **options)


def _store_panel(store: Any, key: str, symbols: tuple[str, ...]) -> Panel:
    """The target series of ``symbols`` as the store holds them now, as one panel (one series: the asset's)."""
    if len(symbols) == 1:
        return Panel.from_dataset(store.dataset(symbols[0]))
    known = set(store.symbols("prices")["symbol"])
    missing = [s for s in symbols if s not in known]
    if missing:
        raise ValueError(f"the global model {key} covers {', '.join(missing)}, not prices symbol(s) in the store "
                         f"({', '.join(sorted(known)) or 'none'}): it is retrained only on every series it covers")
    datasets = [store.dataset(symbol) for symbol in symbols]
    freqs = sorted({d.freq for d in datasets})
    if len(freqs) > 1:
        raise ValueError(f"the symbols of the global model {key} ({', '.join(symbols)}) must share one frequency "
                         f"in the store, got {', '.join(freqs)}")
    target = datasets[0].target
    return Panel.from_frames({d.name: d.series().rename(target).to_frame() for d in datasets}, freqs[0],
                             {d.name: d.calendar for d in datasets}, name=key)


def _units(registry: Any, assets: list[str]) -> dict[str, tuple[str, ...]]:
    """The registered models to retrain for ``assets`` (key -> symbols), each once: an asset's own, or the
    global champion that serves it (`hpcast.registry.Registry.resolve`)."""
    units: dict[str, tuple[str, ...]] = {}
    for asset in assets:
        found = registry.resolve(asset)
        if found is not None and found.is_global:
            units.setdefault(found.key, found.symbols)
        else:
            units.setdefault(asset, (asset,))
    return units


def _retrain_or_fail(store: Any, registry: Any, key: str, symbols: tuple[str, ...], config: RunConfig,
                     folder: Path, force: bool) -> Decision:
    """`retrain_model`, with any failure of this model's own turned into its decision ``failed``.

    Anything may go wrong with one asset on an unattended schedule (a series too short for the window, an
    artifact that does not load); that must not strand the assets after it. The traceback goes to the log.
    A registry that cannot answer is not one asset's failure: it propagates.
    """
    from hpcast.errors import RegistryError

    try:
        return retrain_model(_store_panel(store, key, symbols), key, registry, config, folder, force=force)
    except RegistryError:
        raise
    except Exception as error:
        log.exception("retrain of %s failed", key)
        return Decision(key, "failed", f"{type(error).__name__}: {' '.join(str(error).split())}",
                        symbols=list(symbols))


def _log_decision(registry: Any, decision: Decision, store_url: str, force: bool) -> str:
    """The decision as an MLflow run in `PIPELINE_EXPERIMENT`: its numbers as metrics, its reason as a tag."""
    asset = decision.asset
    return registry.log_run(
        PIPELINE_EXPERIMENT, f"retrain-{asset}",
        params={"asset": asset, "symbols": ",".join(decision.symbols), "force": force, "store": redact(store_url)},
        metrics={**{f"mase_{k}": v for k, v in decision.mase.items()},
                 **{k: v for k, v in decision.drift.to_dict().items()
                    if isinstance(v, float | int | bool) and v is not None}},
        tags={"hpcast.asset": asset, "hpcast.symbols": ",".join(decision.symbols),
              "hpcast.decision": decision.action, "hpcast.reason": decision.reason,
              "hpcast.champion_version": str(decision.champion_version),
              "hpcast.challenger_version": str(decision.challenger_version),
              "hpcast.folds": ",".join(decision.folds),
              "hpcast.none_beat_naive": str(decision.none_beat_naive).lower(),
              "hpcast.drift": json.dumps(decision.drift.to_dict())})


def retrain(store: Any, registry: Any, assets: list[str] | None, config: RunConfig, root: Path, *,
            force: bool = False, progress: Any = None) -> list[Decision]:
    """`retrain_model` for each registered model that serves ``assets`` (default: every prices symbol in
    the store), each decision logged: an asset's own model, or the global champion that covers it (once,
    on all its symbols; module docstring).

    A model that fails gets the decision ``failed`` with the reason, and the next one goes on.

    Raises:
        RegistryError: the registry could not answer (every asset needs it).
        ValueError: an asset that is not a prices symbol in the store.

    Example:
        >>> decisions = retrain(FeatureStore(), Registry(), ["sp500"], RunConfig(), Path("runs/r"))  # doctest: +SKIP
        >>> [(d.asset, d.action) for d in decisions]  # doctest: +SKIP
        [('sp500', 'skipped')]
    """
    symbols = store.symbols("prices")["symbol"].tolist()
    assets = assets or symbols
    unknown = sorted(set(assets) - set(symbols))
    if unknown:
        raise ValueError(f"asset(s) {unknown} must be prices symbols in the store ({', '.join(symbols) or 'none'})")
    decisions = []
    for key, members in _units(registry, assets).items():
        if progress:
            progress(key)
        decision = _retrain_or_fail(store, registry, key, members, config, root / key, force)
        decision.run_id = _log_decision(registry, decision, store.url, force)
        decisions.append(decision)
    return decisions
