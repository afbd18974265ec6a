"""The contract every model in `hpcast.forecast.table.MODELS` passes (STYLE item 12, Nixtla's practice).

Each check is one test function parametrised over ``MODELS`` itself, so a model added to the table is held
to it without a line here. A model is fitted once per module (the ``case`` fixture) on tiny CPU settings:

1. ``predict``: columns ``symbol, date, forecast`` (+ ``lower_XX, upper_XX`` per interval level iff the spec
   has bands), ``horizon`` rows per series, dates continuing each series' calendar or anchor, for one series
   and for two series with different date ranges (a one-series model refuses those, by name).
2. Bands nest (95 around 80 around the forecast) and never narrow with the step.
3. save -> `load_forecaster` gives identical numbers; the folder holds weights + manifest, no pickle.
4. No lookahead: fit reads only the data it is given; forecasts from a history ending at ``d`` ignore values
   after ``d``; a network's fitted transforms ignore values after ``scaler_fitted_through``.
5. The same seed gives bit-identical weights (and forecasts) on the CPU.
6. Named errors: too short a history, other columns than fitted, a horizon past the fitted one, an unknown
   model name, a seasonal model on data without a season.

Every model that takes a distribution head (a ``distribution`` setting) is held to all of it once per head
(``lstm:student-t``, ...: `HEADS`), so a new head or a new recurrent model is covered unaided.

A seed ensemble (`hpcast.forecast.ensemble`, ``--ensemble K``) is held to checks 1, 2, 3 and 5 by a separate
parametrisation (``ENSEMBLES``, the ``ensemble_case`` fixture), with its ``spread`` column beside the bands.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import pickle
import re
import typing
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from hpcast.config import ConfigError, RunConfig, TrainConfig, from_dict
from hpcast.data import load_bundled
from hpcast.data.calendars import future_dates
from hpcast.data.frame import season_length
from hpcast.data.panel import Panel
from hpcast.features.spectrogram import SpectrogramConfig
from hpcast.forecast.base import Forecaster, load_forecaster
from hpcast.forecast.spec import Distribution, ModelSpec, RecurrentConfig
from hpcast.forecast.table import MODELS, estimator_for, model_spec

ONE_SERIES = {"spectro-cnn": "trains on one series"}  # model -> what its refusal of a panel says
MONTHLY = {"arima"}  # fitted on AirPassengers (the airline model); seasonal models are too, by their spec
BASE = RunConfig(window=8, horizon=3, train=TrainConfig(epochs=2, batch_size=16, patience=2, device="cpu"))
MODEL_NAMES = list(MODELS)
HEADS = [head for head in typing.get_args(Distribution) if head != "point"]
HEAD_CASES = [f"{name}:{head}" for name, spec in MODELS.items()
              if "distribution" in {f.name for f in fields(spec.config)} for head in HEADS]
ENSEMBLES = {"lstm x3 ensemble": ("lstm", 3), "lstm:student-t x2 ensemble": ("lstm:student-t", 2)}


# -- data and models ---------------------------------------------------------------------------------------
@functools.cache
def _bundled(name: str) -> pd.Series:
    return load_bundled(name).series()


def _frequency(spec: ModelSpec) -> tuple[str, str | None]:
    return ("MS", None) if spec.needs_season or spec.name in MONTHLY else ("B", "NYSE")


def _panels(spec: ModelSpec) -> tuple[Panel, Panel]:
    """One series, and two series with different date ranges and lengths, at the model's frequency."""
    freq, calendar = _frequency(spec)
    if freq == "MS":
        first, second = ("air", _bundled("air_passengers")), ("cpi", _bundled("core_cpi").iloc[:72])
    else:
        first, second = ("aapl", _bundled("aapl").iloc[:300]), ("msft", _bundled("msft").iloc[100:380])
    one = Panel.from_series(first[1], freq, calendar, symbol=first[0])
    frames = {symbol: series.to_frame(first[1].name) for symbol, series in (first, second)}
    two = Panel.from_frames(frames, freq, dict.fromkeys(frames, calendar))
    return one, two


def _tiny_config(spec: ModelSpec) -> RunConfig:
    """`BASE` with ``spec``'s settings (`RunConfig.for_model`), networks shrunk to a few units."""
    config = BASE.for_model(spec.name)
    names = {f.name for f in fields(spec.config)}
    if "spectrogram" in names:
        model = spec.config(spectrogram=SpectrogramConfig(window=32, n_fft=16, hop=4), channels=(4, 8))
        # window=None: for_model should clear it for a spectrogram model (test_for_model_resolves pins that)
        return dataclasses.replace(config, model=model, window=None, horizon=spec.horizon)
    if issubclass(spec.config, RecurrentConfig):
        config = dataclasses.replace(config, model=spec.config(layers=(6, 5), dropout=(0.1, 0.0)))
    return dataclasses.replace(config, horizon=spec.horizon or config.horizon)


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread() -> Any:
    """One BLAS thread: on a busy machine SARIMA's small products run several times slower with more."""
    try:
        import scipy.linalg  # noqa: F401  (loads scipy's own BLAS, which statsmodels uses, so the limit reaches it)
        from threadpoolctl import threadpool_limits
    except ImportError:  # a transitive dependency; without it the tests only run slower
        yield
        return
    with threadpool_limits(1):
        yield


@dataclass
class Case:
    """One model, its tiny config, its data and its fitted forecasters (two-series: None if it refuses one)."""

    spec: ModelSpec
    config: RunConfig
    one: Panel
    two: Panel
    fitted: Forecaster
    fitted_two: Forecaster | None
    frames: dict[int, pd.DataFrame] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def horizon(self) -> int:
        return self.fitted.config.horizon  # type: ignore[return-value]

    @property
    def extra_columns(self) -> list[str]:
        """Columns after the bands: a seed ensemble's ``spread``."""
        return ["spread"] if self.config.train.ensemble > 1 else []

    def fit(self, panel: Panel) -> Forecaster:
        return estimator_for(self.name, self.config.train.ensemble)(self.config).fit(panel)

    def forecast(self, forecaster: Forecaster) -> pd.DataFrame:
        """``forecaster.predict()`` of a fitted forecaster of this case, computed once (ARIMA refits per call)."""
        if id(forecaster) not in self.frames:
            self.frames[id(forecaster)] = forecaster.predict()
        return self.frames[id(forecaster)].copy()

    def fitted_pairs(self) -> list[tuple[Forecaster, Panel]]:
        pairs = [(self.fitted, self.one)]
        return pairs + ([(self.fitted_two, self.two)] if self.fitted_two is not None else [])


def _build_case(name: str, ensemble: int = 1) -> Case:
    name, _, head = name.partition(":")
    spec = model_spec(name)
    config = _tiny_config(spec)
    if head:
        config = dataclasses.replace(config, model=dataclasses.replace(config.model, distribution=head))
    config = dataclasses.replace(config, train=dataclasses.replace(config.train, ensemble=ensemble))
    one, two = _panels(spec)
    estimator = estimator_for(name, ensemble)
    fitted = estimator(config).fit(one)
    fitted_two = None if spec.name in ONE_SERIES else estimator(config).fit(two)
    return Case(spec, config, one, two, fitted, fitted_two)


@pytest.fixture(scope="module", params=MODEL_NAMES + HEAD_CASES)
def case(request: pytest.FixtureRequest) -> Case:
    return _build_case(request.param)


@pytest.fixture(scope="module", params=list(ENSEMBLES))
def ensemble_case(request: pytest.FixtureRequest) -> Case:
    return _build_case(*ENSEMBLES[request.param])


# -- helpers -----------------------------------------------------------------------------------------------
def _band_columns(levels: tuple[float, ...]) -> list[str]:
    return [column for level in levels for column in (f"lower_{level * 100:.0f}", f"upper_{level * 100:.0f}")]


def _cut_date(panel: Panel, s: int = 0) -> pd.Timestamp:
    """A date four fifths into series ``s``: a history that still fits every model."""
    index = panel.index(s)
    return index[len(index) * 4 // 5]


def _perturbed_after(panel: Panel, cutoffs: dict[str, Any]) -> Panel:
    """``panel`` with every value of series ``symbol`` dated after ``cutoffs[symbol]`` scaled by 2-3x."""
    values = panel.values.copy()
    rng = np.random.default_rng(0)
    for symbol, date in cutoffs.items():
        rows = panel.rows(symbol)
        later = rows.start + np.flatnonzero(panel.dates[rows] > np.datetime64(pd.Timestamp(date), "ns"))
        assert len(later), f"nothing after {date} in {symbol!r} to perturb"
        values[later] *= rng.uniform(2.0, 3.0, size=(len(later), values.shape[1]))
    return dataclasses.replace(panel, values=values)


def _head(panel: Panel, points: int) -> Panel:
    """The first ``points`` rows of the first series, as a panel of one."""
    one = panel.select([panel.symbols[0]])
    return one.until(one.index(0)[points - 1])


def _assert_same_weights(a: Forecaster, b: Forecaster) -> None:
    assert (a.net is None) == (b.net is None)
    if a.net is None:
        return
    left, right = a.net.state_dict(), b.net.state_dict()
    assert left.keys() == right.keys()
    for key in left:
        assert left[key].dtype == right[key].dtype and torch.equal(left[key], right[key]), f"weights {key} differ"


def _assert_same_fit(a: Forecaster, b: Forecaster, b_forecast: pd.DataFrame | None = None) -> None:
    """Same weights bit for bit, same per-series entries (scalers, calibration, data facts), same forecasts."""
    _assert_same_weights(a, b)
    assert a.series == b.series
    assert a.calibration == b.calibration
    assert _fitted_transforms(a) == _fitted_transforms(b)
    expected = b.predict() if b_forecast is None else b_forecast
    pd.testing.assert_frame_equal(a.predict(), expected, check_exact=True)


def _fitted_transforms(forecaster: Forecaster) -> dict[str, Any]:
    """What a network fitted besides its weights: per-series scalers, a spectrogram normaliser and target scale."""
    own = forecaster.manifest() if forecaster.net is not None else {}
    return {"scalers": {symbol: entry.get("scalers") for symbol, entry in forecaster.series.items()},
            "normaliser": own.get("normaliser"), "target_scale": own.get("target_scale")}


def _check_frame(frame: pd.DataFrame, case: Case, panel: Panel) -> None:
    bands = _band_columns(case.config.interval_levels) if case.spec.bands else []
    assert list(frame.columns) == ["symbol", "date", "forecast", *bands, *case.extra_columns]
    assert len(frame) == case.horizon * panel.n_series
    assert pd.api.types.is_datetime64_any_dtype(frame["date"])
    assert np.isfinite(frame.drop(columns=["symbol", "date"]).to_numpy(dtype=np.float64)).all()
    for s, symbol in enumerate(panel.symbols):
        rows = frame[frame["symbol"] == symbol]
        assert len(rows) == case.horizon, f"{symbol}: {len(rows)} rows, expected {case.horizon}"
        expected = future_dates(panel.index(s), panel.freq, case.horizon, panel.calendars[s])
        assert list(rows["date"]) == list(expected), f"{symbol}: dates do not continue its calendar/anchor"


# -- 1. predict: columns, rows, dates ----------------------------------------------------------------------
def test_predict_one_series(case: Case) -> None:
    assert case.horizon == (case.spec.horizon or BASE.horizon)
    _check_frame(case.forecast(case.fitted), case, case.one)


def test_predict_two_series_with_different_ranges(case: Case) -> None:
    assert case.two.index(0)[0] != case.two.index(1)[0] and case.two.index(0)[-1] != case.two.index(1)[-1]
    if case.name in ONE_SERIES:
        with pytest.raises(ValueError, match=ONE_SERIES[case.name]):
            case.fit(case.two)
        return
    assert case.fitted_two is not None
    _check_frame(case.forecast(case.fitted_two), case, case.two)


# -- 2. bands --------------------------------------------------------------------------------------------
def test_bands_nest_and_widen(case: Case) -> None:
    if not case.spec.bands:
        pytest.skip(f"{case.name} has no bands")
    levels = sorted(case.config.interval_levels, reverse=True)  # widest first
    for forecaster, panel in case.fitted_pairs():
        frame = case.forecast(forecaster)
        order = [f"lower_{level * 100:.0f}" for level in levels] + ["forecast"]
        order += [f"upper_{level * 100:.0f}" for level in reversed(levels)]
        nested = frame[order].to_numpy()
        assert (np.diff(nested, axis=1) >= 0).all(), f"bands do not nest as {order}:\n{frame}"
        for symbol in panel.symbols:
            rows = frame[frame["symbol"] == symbol]
            space = (forecaster.series[symbol].get("calibration") or forecaster.calibration)["space"]
            for level in levels:
                lower, upper = rows[f"lower_{level * 100:.0f}"], rows[f"upper_{level * 100:.0f}"]
                width = np.log(upper / lower) if space == "log" else upper - lower
                tolerance = 1e-9 * np.maximum(1.0, np.abs(rows["forecast"].to_numpy()[1:]))
                assert (np.diff(width.to_numpy()) >= -tolerance).all(), f"{symbol} {level:.0%} band narrows"


# -- 3. artifacts ----------------------------------------------------------------------------------------
def test_save_load_identical_without_pickle(case: Case, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an artifact was unpickled")

    for n, (forecaster, panel) in enumerate(case.fitted_pairs()):
        folder = forecaster.save(tmp_path / f"model{n}")
        assert sorted(os.listdir(folder)) == ["manifest.json", "weights.safetensors"]
        for name in os.listdir(folder):
            assert (folder / name).read_bytes()[:1] != b"\x80", f"{name} starts like a pickle"
        with monkeypatch.context() as patch:
            for module, attribute in ((pickle, "load"), (pickle, "loads"), (torch, "load")):
                patch.setattr(module, attribute, refuse)
            loaded = load_forecaster(folder, panel)
            again = loaded.predict()
        assert type(loaded) is type(forecaster) and loaded.kind == case.name
        _assert_same_weights(loaded, forecaster)
        pd.testing.assert_frame_equal(again, case.forecast(forecaster), check_exact=True)


# -- 4. no lookahead -------------------------------------------------------------------------------------
def test_fit_reads_only_the_data_it_is_given(case: Case) -> None:
    cut = _cut_date(case.one)
    perturbed = _perturbed_after(case.one, {case.one.symbols[0]: cut})
    assert not np.array_equal(perturbed.values, case.one.values)
    _assert_same_fit(case.fit(case.one.until(cut)), case.fit(perturbed.until(cut)))


def test_forecast_ignores_values_after_its_history(case: Case) -> None:
    forecaster, panel = case.fitted_pairs()[-1]  # two series where the model takes them
    cut = min(_cut_date(panel, s) for s in range(panel.n_series))  # inside every series
    perturbed = _perturbed_after(panel, dict.fromkeys(panel.symbols, cut))
    frame = forecaster.predict(panel.until(cut))
    pd.testing.assert_frame_equal(forecaster.predict(perturbed.until(cut)), frame, check_exact=True)
    assert (frame["date"] > cut).all()


def test_scalers_ignore_values_after_cutoff(case: Case) -> None:
    if case.spec.network is None:
        pytest.skip(f"{case.name} fits no transforms")
    for forecaster, panel in case.fitted_pairs():
        cutoffs = {symbol: forecaster.series[symbol]["data"]["scaler_fitted_through"] for symbol in panel.symbols}
        transforms = _fitted_transforms(forecaster)
        assert any(value for value in transforms.values()), "a network with no fitted transforms"
        refitted = case.fit(_perturbed_after(panel, cutoffs))
        assert _fitted_transforms(refitted) == transforms, f"transforms read values after {cutoffs}"


# -- 5. seeds --------------------------------------------------------------------------------------------
def test_same_seed_same_fit(case: Case) -> None:
    assert case.config.train.device == "cpu"
    _assert_same_fit(case.fit(case.one), case.fitted, case.forecast(case.fitted))


# -- 6. named errors -------------------------------------------------------------------------------------
def test_too_short_history(case: Case) -> None:
    minimum = getattr(case.fitted, "min_history", None)
    if minimum is None and case.spec.needs_season:
        minimum = season_length(case.one.freq)
    if minimum is None:
        pytest.skip(f"{case.name} declares no minimum history (it forecasts from one point)")
    if case.spec.network is not None:  # a network cannot train on what one forecast reads
        with pytest.raises(ValueError, match="too short"):
            case.fit(_head(case.one, minimum))
    with pytest.raises(ValueError) as error:
        case.fitted.predict(_head(case.one, minimum - 1))
    message = str(error.value)
    assert "too short" in message or ("history" in message and re.search(rf"\b{minimum}\b", message)), message


def test_history_with_other_columns(case: Case) -> None:
    for forecaster, panel in case.fitted_pairs():
        wider = panel.with_columns(["volume"], panel.values[:, :1] * 10.0)
        with pytest.raises(ValueError, match=r"volume") as error:
            forecaster.predict(wider)
        assert panel.target in str(error.value), "the message names the fitted columns"


def test_horizon_past_the_fitted_one(case: Case) -> None:
    with pytest.raises(ValueError, match=rf"horizon \({case.horizon + 1}\) must be in \[1, {case.horizon}\]"):
        case.fitted.predict(horizon=case.horizon + 1)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_unknown_model_lists_the_known(name: str) -> None:
    for build in (lambda: model_spec("prophet"), lambda: RunConfig().for_model("prophet"),
                  lambda: from_dict(RunConfig, {"model": {"kind": "prophet"}})):
        with pytest.raises(ConfigError, match=r"model \('prophet'\) must be one of") as error:
            build()
        assert re.search(rf"(^|[ ,]){re.escape(name)}(,|$)", str(error.value)), str(error.value)


@pytest.mark.parametrize("name", [name for name, spec in MODELS.items() if spec.needs_season])
def test_seasonal_model_refuses_business_days(name: str) -> None:
    forecaster = model_spec(name).estimator_class()(BASE.for_model(name))
    with pytest.raises(ValueError, match=rf"model '{name}' needs a declared season; frequency 'B' has none"):
        forecaster.fit(_bundled("aapl").iloc[:300], "B", calendar="NYSE")


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_for_model_resolves(name: str) -> None:
    """`for_model` gives a config the model accepts: a spectrogram model's window is its spectrogram's."""
    spec = model_spec(name)
    freq, _ = _frequency(spec)
    config = RunConfig(window=8).for_model(name)
    assert config.kind == name
    resolved = config.resolved(freq)
    spectrogram = getattr(resolved.model, "spectrogram", None)
    assert resolved.window == (spectrogram.window if spectrogram is not None else 8)


# -- the seed ensemble: checks 1, 2, 3 and 5 on the same bodies ------------------------------------------
def test_ensemble_predict(ensemble_case: Case) -> None:
    test_predict_one_series(ensemble_case)
    test_predict_two_series_with_different_ranges(ensemble_case)
    assert (ensemble_case.forecast(ensemble_case.fitted)["spread"] >= 0).all()


def test_ensemble_bands_nest_and_widen(ensemble_case: Case) -> None:
    test_bands_nest_and_widen(ensemble_case)


def test_ensemble_save_load_identical_without_pickle(ensemble_case: Case, tmp_path: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    test_save_load_identical_without_pickle(ensemble_case, tmp_path, monkeypatch)


def test_ensemble_same_seed_same_fit(ensemble_case: Case) -> None:
    test_same_seed_same_fit(ensemble_case)
