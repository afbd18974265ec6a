"""The Python facade: load data, fit, predict, backtest — the functions the CLI's jobs call.

    >>> import hpcast
    >>> panel = hpcast.load_panel(datasets="sp500,nasdaq", covariates="calendar")   # doctest: +SKIP
    >>> model = hpcast.fit(panel, model="lstm", epochs=20)                          # doctest: +SKIP
    >>> model.predict()                                                             # doctest: +SKIP
    >>> hpcast.backtest(panel, models=("lstm", "naive"), epochs=20).per_series      # doctest: +SKIP

A single series works the same way: ``hpcast.fit(series, freq="B")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hpcast.config import RunConfig, configure

__all__ = ["backtest", "fit", "load_model", "load_panel"]


def load_panel(**sources: Any) -> Any:
    """A `hpcast.data.panel.Panel` from bundled datasets, a CSV (long or one series), the feature store or
    Yahoo, with covariates: `hpcast.inputs.load_panel`'s arguments."""
    from hpcast.inputs import load_panel as load

    return load(**sources)


def fit(data: Any, model: str = "lstm", *, freq: str | None = None, calendar: str | None = None,
        config: RunConfig | None = None, progress: bool = False, **settings: Any) -> Any:
    """Fit ``model`` (a name in `hpcast.forecast.MODELS`) on a panel or one ``pd.Series`` (then give ``freq``);
    ``settings`` by their names (``epochs=20, layers=(32,)``) override ``config``. Returns the fitted
    forecaster: ``.predict(history=None, horizon=None)``, ``.save(folder)``."""
    from hpcast.forecast.table import estimator_for
    from hpcast.train.context import RunContext

    config = configure(config, model=model, **settings)
    context = None
    if progress:
        from hpcast.train.progress import EpochProgress

        context = RunContext(progress=EpochProgress())
    estimator = estimator_for(config.kind, config.train.ensemble)  # ensemble=K: a seed ensemble
    return estimator(config).fit(data, freq, calendar=calendar, context=context)


def backtest(data: Any, models: tuple[str, ...] | None = None, *, freq: str | None = None,
             config: RunConfig | None = None, **settings: Any) -> Any:
    """Walk-forward backtest of ``models`` (default: the network and the baselines that apply) on the same
    folds: `hpcast.evaluate.walkforward.backtest`. ``settings`` as in `fit` (``test_size=``, ``scope=``, ...)."""
    from hpcast.evaluate.walkforward import backtest as run

    network = next((m for m in models or () if _is_network(m)), None)
    config = configure(config, **({"model": network} if network else {}), **settings)
    return run(data, freq, config, models=models)


def load_model(folder: str | Path, history: Any = None) -> Any:
    """A saved model (a run folder or its ``model/``), rebuilt without pickle."""
    from hpcast.forecast.base import load_forecaster

    path = Path(folder)
    return load_forecaster(path / "model" if (path / "model").is_dir() else path, history)


def _is_network(name: str) -> bool:
    from hpcast.forecast.table import model_spec

    return model_spec(name).network is not None
