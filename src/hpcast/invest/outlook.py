"""What each asset is expected to do: its registry champion's forecast, or the historical-drift baseline.

The champion is the one `hpcast.registry.Registry.resolve` names: the asset's own, else a global model's
(one network over a panel of several symbols) whose champion covers the asset; a global model forecasts
the asset's own series. Its skill figures are pooled over the series it covers, and the words say so.

An `Outlook` carries the expected path (the champion's point forecast, when there is a usable one), the
champion's own sample paths where it has a distribution head (`hpcast.forecast.base.Forecaster.gives_samples`), and
the model's skill against the naive random walk in plain words (its backtest, its live error since its
training data ended, the latest retrain's comparison: whatever its registry version records), so the page
can say how far to trust it. A champion is not used for an as-of date before its training data ends: its
forecast would have seen the answer (for a global model, the last date of any of its series: its weights
saw them all). `Outlooks` caches registry lookups, loaded models and forecasts, because every simulation
asks for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["BASELINE", "Outlook", "Outlooks", "skill_words"]

log = logging.getLogger(__name__)

BASELINE = "historical drift"
SAMPLE_SEED = 20261207  # a champion's sample paths: the same request gives the same numbers


@dataclass(frozen=True)
class Outlook:
    """One asset's expected path and how much its source can be trusted."""

    asset: str
    source: str  # "champion v3", "global champion v2 (hpcast-global-tech)" or `BASELINE`
    skill: str
    beats_naive: bool | None = None
    version: int | None = None
    forecast: pd.Series | None = None  # the model's point forecast of the price, indexed by date
    model: str | None = None  # the registered model's name (hpcast-<key>)
    covers: tuple[str, ...] = ()  # a global model's symbols
    samples: np.ndarray | None = None  # (n, h) sampled log returns from the last price to each forecast date

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "version": self.version, "skill": self.skill, "beats_naive": self.beats_naive,
                "model": self.model, "covers": list(self.covers), "sample_paths": self.samples is not None}


def _against_naive(tags: dict[str, str], model: str, naive: str, where: str) -> tuple[str, bool] | None:
    """One piece of evidence from the version's tags: "(did not) beat a random walk <where> (figures)"."""
    if model not in tags or naive not in tags:
        return None
    ours, walk = float(tags[model]), float(tags[naive])
    verb = "beat" if ours < walk else "did not beat"
    return f"{verb} a random walk {where} (MASE {ours:.3f} against {walk:.3f} for a random walk)", ours < walk


def skill_words(asset: str, version: int, tags: dict[str, str], *, key: str | None = None,
                covers: tuple[str, ...] = ()) -> tuple[str, bool | None]:
    """The champion's skill against the naive random walk, said plainly, from its version's tags.

    Three kinds of evidence, each said when recorded: the backtest at registration (``backtest_mase``,
    ``naive_mase``), the live error since its training data ended (``live_*``, written by every retrain)
    and the latest retrain's comparison (``beats_naive``, ``compared_*``). The model beats the random walk
    only if every recorded piece says so. A global model (``key`` names it, ``covers`` its symbols) is
    named as such, and its figures are said to be pooled over its series.

    Example:
        >>> skill_words("gold", 3, {"backtest_mase": "0.9", "naive_mase": "1.0"})[1]
        True
    """
    evidence = [_against_naive(tags, "backtest_mase", "naive_mase", "in backtests"),
                _against_naive(tags, "live_mase", "live_naive_mase",
                               f"on the {tags.get('live_points')} points after its training data "
                               f"(through {tags.get('live_through')})")]
    if "beats_naive" in tags:
        compared = _against_naive(tags, "compared_mase", "compared_naive_mase", "in the latest retrain's comparison")
        beats = tags["beats_naive"] == "true"
        evidence.append(compared or (f"{'beat' if beats else 'did not beat'} a random walk in the latest "
                                     "retrain's comparison", beats))
    found = [piece for piece in evidence if piece is not None]
    subject = f"the {asset} model"
    if covers:
        subject = (f"the global model {key} (v{version}, one network over {', '.join(covers)}; its figures are "
                   f"pooled over them)")
    if not found:
        return (f"{subject if covers else subject + f' (v{version})'} has no recorded backtest, so its skill is "
                f"unknown; `hpcast pipeline retrain --assets {asset}` records one", None)
    beats = all(ok for _, ok in found)
    words = f"{subject} " + "; it ".join(text for text, _ in found)
    return (words if beats else f"{words}; read its forecast as a reference only"), beats


def _baseline(asset: str, reason: str) -> Outlook:
    return Outlook(asset, BASELINE, f"{reason}: the simulation uses the historical-drift baseline "
                                    "(the average return of the past years, no model)")


class Outlooks:
    """Champion forecasts per asset and as-of date, from a registry (None: baseline everywhere)."""

    def __init__(self, registry: Any = None, *, refresh_seconds: float = 60.0, cache_size: int = 256,
                 samples: int = 4000) -> None:
        self.registry = registry
        self.samples = samples  # sample paths drawn from a champion with a distribution head
        self.refresh_seconds = refresh_seconds
        self.cache_size = cache_size
        self._champions: dict[str, tuple[float, Any, dict[str, str]]] = {}
        self._models: dict[tuple[str, int], Any] = {}
        self._forecasts: OrderedDict[tuple[str, str, int, pd.Timestamp], tuple[pd.Series, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _champion(self, asset: str) -> tuple[Any, dict[str, str]]:
        """The `hpcast.registry.Resolved` champion that serves ``asset`` (or None) and its version's tags."""
        seen = self._champions.get(asset)
        if seen is not None and time.monotonic() - seen[0] < self.refresh_seconds:
            return seen[1], seen[2]
        found = self.registry.resolve(asset)
        tags = dict(self.registry.version(found.key, found.version).tags) if found is not None else {}
        self._champions[asset] = (time.monotonic(), found, tags)
        return found, tags

    def _model(self, key: str, version: int) -> Any:
        with self._lock:  # one download per model, however many requests (and assets it covers) ask at once
            if (key, version) not in self._models:
                self._models[key, version] = self.registry.load(key, version=version)
            return self._models[key, version]

    def get(self, asset: str, history: pd.Series, as_of: pd.Timestamp) -> Outlook:
        """The outlook for ``asset`` from ``history`` (its prices up to ``as_of``)."""
        if self.registry is None:
            return _baseline(asset, "no model registry is connected")
        try:
            found, tags = self._champion(asset)
        except Exception as error:  # a registry that cannot answer must not take the page down
            log.warning("registry lookup for %s failed: %s", asset, error)
            return _baseline(asset, f"the registry could not be read ({type(error).__name__})")
        if found is None:
            return _baseline(asset, f"no registered model for {asset} (train one: "
                                    f"`hpcast train --dataset {asset} --register {asset}`), and no global model "
                                    "covers it")
        covers = found.symbols if found.is_global else ()
        skill, beats = skill_words(asset, found.version, tags, key=found.key, covers=covers)
        try:
            return self._forecast(asset, found, skill, beats, history, as_of)
        except Exception as error:  # a broken artifact must not take the page down: say so, use the baseline
            log.warning("the %s champion v%s could not forecast %s: %s", found.key, found.version, asset, error)
            return _baseline(asset, f"the {_whose(found)} champion (v{found.version}) could not forecast "
                                    f"({type(error).__name__}: {str(error)[:120]})")

    def _forecast(self, asset: str, found: Any, skill: str, beats: bool | None, history: pd.Series,
                  as_of: pd.Timestamp) -> Outlook:
        from hpcast.registry import for_symbol, model_name

        version = found.version
        model = self._model(found.key, version)
        trained_end = pd.Timestamp(model.data_info["end"])
        if trained_end > as_of:
            return _baseline(asset, f"the {_whose(found)} champion (v{version}) was trained on data through "
                                    f"{trained_end.date()}, after the as-of date, so its forecast would "
                                    "have seen the answer")
        need = getattr(model, "min_history", 1)
        if len(history) < need:
            return _baseline(asset, f"the {_whose(found)} champion needs {need} prices before the as-of date")
        key = (asset, found.key, version, as_of)
        cached = self._forecasts.get(key)
        if cached is None:
            panel = for_symbol(model, asset, history)
            frame = model.predict(panel)
            forecast = pd.Series(frame["forecast"].to_numpy(), index=pd.DatetimeIndex(frame["date"]))
            samples = None
            if model.gives_samples:  # a distribution head: its own joint paths, in log returns from the spot
                samples = np.log(model.sample_paths(panel, n=self.samples, seed=SAMPLE_SEED)[0] / history.iloc[-1])
            cached = (forecast, samples)
            with self._lock:
                self._forecasts[key] = cached
                while len(self._forecasts) > self.cache_size:
                    self._forecasts.popitem(last=False)
        source = f"global champion v{version} ({model_name(found.key)})" if found.is_global else f"champion v{version}"
        return Outlook(asset, source, skill, beats, version, cached[0], model_name(found.key),
                       found.symbols if found.is_global else (), cached[1])


def _whose(found: Any) -> str:
    """How the words name a champion's model: the asset's own, or a global model by its key."""
    return f"global {found.key}" if found.is_global else found.asset
