"""`Advisor`: the one object the REST API, the web page and ``hpcast invest`` all call.

It holds what is worth keeping between requests (the market snapshot, champion models and their
forecasts) and answers with plain dictionaries ready for JSON.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hpcast.errors import InputError
from hpcast.invest.calibrate import load_calibration
from hpcast.invest.inflation import project_inflation
from hpcast.invest.market import CASH, Market
from hpcast.invest.outlook import Outlooks
from hpcast.invest.simulate import PATHS, Simulation, plan, simulate

__all__ = ["Advisor", "calibration_dir"]

log = logging.getLogger(__name__)


def calibration_dir() -> Path:
    """Where `hpcast invest calibrate` writes and the app reads: ``<data>/calibration``."""
    from hpcast.registry import data_dir

    return data_dir() / "calibration"


class Advisor:
    """Simulations, forecasts and the asset list over one `Market` and the registry's champions."""

    def __init__(self, market: Market, outlooks: Outlooks | None = None, *,
                 calibration: Path | None = None, paths: int = PATHS) -> None:
        self.market = market
        self.outlooks = outlooks or Outlooks(None)
        self.calibration_folder = calibration or calibration_dir()
        self.paths = paths

    @classmethod
    def open(cls, store_url: str | None = None, *, registry: bool = True, backfill_if_empty: bool = False) -> Advisor:
        """Snapshot the store (filling an empty one from bundled data if asked) and connect the registry."""
        from hpcast.store import FeatureStore

        store = FeatureStore(store_url)
        if backfill_if_empty and store.symbols("prices").empty:
            from hpcast.store.ingest import DEFAULT_ASSETS, backfill

            log.warning("the store at %s holds no prices: loading the bundled series (%s)", store.url,
                        ", ".join(DEFAULT_ASSETS))
            backfill(store, list(DEFAULT_ASSETS))
        outlooks = None
        if registry:
            from hpcast.registry import Registry

            outlooks = Outlooks(Registry())
        return cls(Market.from_store(store), outlooks)

    def simulate(self, amount: Any, allocation: Any, horizon_months: Any = 6, as_of: Any = None) -> Simulation:
        """Validate (`InputError` lists every broken rule) and simulate."""
        return simulate(self.market, self.outlooks, plan(self.market, amount, allocation, horizon_months, as_of),
                        paths=self.paths)

    def forecast(self, asset: Any, horizon_months: Any = 6, as_of: Any = None) -> dict[str, Any]:
        """One asset's price distribution over the horizon (the simulator with all of it in that asset)."""
        if asset == CASH or asset not in self.market.prices:
            raise InputError([("asset", f"asset must be one of the priced assets: {', '.join(self.market.prices)} "
                                        f"(got {asset!r})")])
        sim = self.simulate(1.0, {asset: 100}, horizon_months, as_of)
        spot = float(self.market.prices[asset][:sim.plan.as_of].iloc[-1])
        answer = sim.to_dict()
        outlook = sim.outlooks[asset]
        fan = {name: [v * spot for v in values] for name, values in answer["fan"]["nominal"].items()}
        model = None
        if outlook.forecast is not None:
            model = {"dates": [d.date().isoformat() for d in outlook.forecast.index],
                     "forecast": [float(v) for v in outlook.forecast]}
        return {"asset": asset, "as_of": answer["as_of"], "as_of_range": answer["as_of_range"], "spot": spot,
                "horizon": answer["horizon"], "dates": answer["fan"]["dates"], "price": fan,
                "model_forecast": model, **outlook.to_dict(), "notes": answer["notes"]}

    def assets(self) -> dict[str, Any]:
        """Every allocatable asset with its dates and model, plus the inflation series in use."""
        listed = []
        for info in self.market.assets():
            entry = info.to_dict()
            if info.kind == "price":
                outlook = self.outlooks.get(info.name, self.market.prices[info.name], info.last)
                entry.update(outlook.to_dict())
            listed.append(entry)
        latest = max(info.last for info in self.market.assets())
        try:
            inflation: dict[str, Any] | None = project_inflation(self.market, latest).to_dict()
        except ValueError as error:
            inflation = {"error": str(error)}
        return {"assets": listed, "inflation": inflation, "source": self.market.source}

    def calibration(self) -> dict[str, Any] | None:
        found = load_calibration(self.calibration_folder)
        return None if found is None else {**found[0], "figure": str(found[1])}
