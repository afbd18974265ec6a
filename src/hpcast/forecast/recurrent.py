"""`RecurrentForecaster`: the recurrent networks over a panel's windows (`MODELS` names each one's network).

One network across every series of the panel (a global model; a single series is a panel of one): past
values of the target and the covariates at each step, the calendar of the forecast dates for the head
when the panel declares known-future features, a learned symbol vector when ``embedding > 0``. The split,
the scalers and the windows are `hpcast.forecast.panel_windows`'; bands are split-conformal per series
(`hpcast.forecast.calibration`), on that series' own calibration windows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from hpcast.config import RunConfig
from hpcast.data.panel import Panel
from hpcast.features.scalers import Scaler
from hpcast.features.targets import decode, encode
from hpcast.forecast.base import Forecaster, training_device
from hpcast.forecast.calibration import conformal_calibration
from hpcast.forecast.panel_windows import PanelWindows, prepare_panel
from hpcast.forecast.table import model_spec
from hpcast.models.volatility import ewma_forecast, log_returns

__all__ = ["RecurrentForecaster", "calibrate_series", "ewma_sigma"]

_CHUNK = 4096  # windows per forward pass when scoring many at once

_EWMA_LOOKBACK = 250  # prices' worth of returns an EWMA σ reads (the weight of older ones: 0.94^250 < 1e-6)


def ewma_sigma(values: np.ndarray) -> float:
    """The RiskMetrics EWMA volatility of the next log return after the last of ``values`` (one series' values
    up to a forecast origin): `hpcast.models.volatility.ewma_forecast` over its last 250 returns."""
    prices = np.asarray(values, dtype=np.float64)[-(_EWMA_LOOKBACK + 1):]
    if len(prices) < 2:
        raise ValueError("an EWMA volatility needs at least two values")
    return float(np.sqrt(ewma_forecast(log_returns(prices))))


def calibrate_series(series: dict[str, dict[str, Any]], panel: Panel, windows: PanelWindows, paths: np.ndarray,
                     config: RunConfig, spread: np.ndarray | None = None) -> None:
    """Per series of ``panel``: conformal quantiles of its calibration windows' residuals (``paths (M, h)``: the
    decoded forecasts of ``windows.starts("cal")``), its scalers and split, written into ``series[symbol]``.

    With ``spread (M, h)`` (a distribution head's predicted spread of each step, or the EWMA volatility, in the
    residuals' space) the scores are the residuals divided by it, so the bands widen and narrow with the
    volatility forecast while the conformal rank keeps their finite-sample coverage (split conformal on scaled
    scores). Scaled scores are free of each series' units and volatility, so they are pooled over every series
    of the panel: a short series' bands rest on the whole panel's calibration windows, not on its own few."""
    starts = windows.starts("cal")
    of_series = windows.series_of(starts)
    T, h = windows.window, windows.horizon
    actual = panel.values[windows.panel_rows((starts + T)[:, None] + np.arange(h)), 0]  # (M, h)
    log_space = config.target == "log_return"
    residuals = np.abs(np.log(actual) - np.log(paths)) if log_space else np.abs(actual - paths)
    if spread is not None:
        residuals = residuals / spread
    space = ("scaled-log" if log_space else "scaled") if spread is not None else ("log" if log_space else "linear")
    pooled = None
    if spread is not None:
        pooled = conformal_calibration(residuals, config.interval_levels, space)
        if panel.n_series > 1:
            pooled["pooled_series"] = panel.n_series
    for s, symbol in enumerate(panel.symbols):
        n_train, first_val, n_val, first_cal = (int(v) for v in windows.splits[s])
        target, covariates = windows.scalers[s]
        raw_first = int(panel.offsets[s])
        cutoff = int(windows.panel_rows(windows.first_row[s] + first_val + T - 1)) - raw_first
        series[symbol].update(
            scalers={"target": target.to_dict(), "covariates": covariates.to_dict() if covariates else None},
            calibration=pooled or conformal_calibration(residuals[of_series == s], config.interval_levels, space),
            data={"train_windows": n_train, "val_windows": n_val,
                  "calibration_windows": int(windows.windows[s]) - first_cal,
                  "scaler_fitted_through": panel.index(s)[cutoff].date().isoformat()})


class RecurrentForecaster(Forecaster):
    """Fit the configured recurrent network (``config.model.kind``, a row of `MODELS`) and forecast with bands.

    Example:
        >>> from hpcast.data import load_bundled
        >>> from hpcast.data.panel import Panel
        >>> f = RecurrentForecaster().fit(Panel.from_dataset(load_bundled("air_passengers")))  # doctest: +SKIP
        >>> f.predict().columns.tolist()  # doctest: +SKIP
        ['symbol', 'date', 'forecast', 'lower_80', 'upper_80', 'lower_95', 'upper_95']
    """

    @property
    def min_history(self) -> int:
        """Points `predict` needs before its first forecast."""
        assert self.config.window is not None
        return self.config.window + (1 if self.config.target == "log_return" else 0)

    def _network(self, input_size: int, future_size: int, n_series: int, kernels: str) -> torch.nn.Module:
        network = model_spec(self.kind).network_class()
        return network(self.config.model, input_size=input_size, horizon=self.config.horizon, kernels=kernels,
                       future_size=future_size, n_series=n_series)

    # -- fitting -------------------------------------------------------------------------------------------
    def _fit(self, panel: Panel, context: Any) -> Any:
        windows = self._windows(panel, context)
        [self.result] = yield [self._job(windows, panel, context)]  # trained by fit_many, maybe with others
        self.result.recipe["stride"] = self._stride()
        self.result.val_crps = self._validation_crps(windows)
        paths, spread = self._score(windows, windows.starts("cal"), panel.values[:, 0])
        calibrate_series(self.series, panel, windows, paths, self.config, spread)

    def _windows(self, panel: Panel, context: Any) -> PanelWindows:
        """The panel split, scaled and windowed on the training device (one per fit; an ensemble shares it)."""
        config = self.config
        device = training_device(config.train.device)
        dist = context.dist
        if dist is not None and dist.world_size > 1 and device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per worker
        embed = getattr(config.model, "embedding", 0) > 0
        return prepare_panel(panel, config, device, with_ids=embed)

    def _stride(self) -> int:
        """Steps between training windows: every one for last-step targets; ``stride`` (0: window/10) for all."""
        if self.config.train.targets != "all":
            return 1
        return self.config.train.stride or max(1, self.config.window // 10)  # type: ignore[operator]

    def _job(self, windows: PanelWindows, panel: Panel, context: Any) -> Any:
        """The network, built from ``config.train.seed``, and its training on ``windows``' training and
        validation parts, as a `TrainingJob` (the network is ``self.net`` from here on)."""
        from hpcast.kernels.dispatch import resolve
        from hpcast.train.many import TrainingJob

        config = self.config
        every_step = config.train.targets == "all"
        train_data = windows.batches(windows.starts("train", self._stride()), every_step, config.train.series_weights)
        val_data = windows.batches(windows.starts("val"))
        if config.train.kernels == "triton":
            resolve("triton", windows.buffer)  # fail before training when Triton cannot run here
        torch.manual_seed(config.train.seed)
        K = 0 if windows.future is None else windows.future.shape[1]
        self.net = self._network(panel.values.shape[1], config.horizon * K,  # type: ignore[operator]
                                 panel.n_series if windows.with_ids else 0, config.train.kernels)
        self.net = self.net.to(windows.buffer.device)  # the training device, where prepare_panel put the windows
        return TrainingJob(self.net, train_data, val_data, config.train, context)

    def _validation_crps(self, windows: PanelWindows) -> float | None:
        """The head's mean CRPS over the validation windows in the scaled target's units (`Output.crps`): the
        score that ranks heads trained by different losses."""
        from hpcast.train.rules import validation_batch

        self.net.eval()
        with torch.no_grad():
            batches = windows.batches(windows.starts("val")).in_order(validation_batch(self.config.train))
            scores = [self.net.output.crps(self.net(xb), yb) for xb, yb in batches]
        return float(np.concatenate(scores).mean()) if scores else None

    def _score(self, windows: PanelWindows, starts: np.ndarray,
               raw_target: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Decoded point forecasts ``(M, h)`` of the windows starting at buffer rows ``starts`` (``raw_target (N,)``:
        the panel's target values, whose last value in each window the paths continue), and for a distribution
        head the spread of each step in the bands' space ``(M, h)`` (`spread`), else None."""
        T = windows.window
        outputs = []
        self.net.eval()
        with torch.no_grad():
            for first in range(0, len(starts), _CHUNK):
                chunk = torch.from_numpy(starts[first:first + _CHUNK]).to(windows.buffer.device)
                outputs.append(self.net(windows.gather(chunk)).double().cpu())  # (B, h·p)
        raw = torch.cat(outputs) if outputs else torch.zeros((0, windows.horizon * self.net.output.width))
        series = windows.series_of(starts)
        offset = np.array([windows.scalers[s][0].offset[0] for s in range(len(windows.scalers))])[series]
        scale = np.array([windows.scalers[s][0].scale[0] for s in range(len(windows.scalers))])[series]
        z = self.net.output.point(raw).numpy() * scale[:, None] + offset[:, None]  # the target scaler's inverse
        ends = windows.panel_rows(starts + T - 1)
        last = raw_target[ends]
        paths = decode(z, last, self.config.target)
        if self._ewma_scaled:  # each window's own series, up to its end
            first = windows.first_source[windows.series_of(starts)]
            sigma = np.array([ewma_sigma(raw_target[max(start, end - _EWMA_LOOKBACK):end + 1])
                              for start, end in zip(first, ends, strict=True)])
            return paths, self._ewma_spread(sigma)
        return paths, self._spread(raw, scale)

    @property
    def _ewma_scaled(self) -> bool:
        """Whether a point head's bands scale by the EWMA volatility (``calibration="ewma"``, log returns)."""
        return (not self.net.output.distribution and getattr(self.config.model, "calibration", "plain") == "ewma"
                and self.config.target == "log_return")

    def _ewma_spread(self, sigma: np.ndarray) -> np.ndarray:
        """``(M, h)``: the spread of the cumulated log return after each origin, ``σ_origin · √k``."""
        return sigma[:, None] * np.sqrt(np.arange(1, self.config.horizon + 1))[None, :]

    def _spread(self, raw: torch.Tensor, scale: np.ndarray) -> np.ndarray | None:
        """A distribution head's spread of each step ``(M, h)`` in the bands' space: of the cumulated log return
        (log_return: steps drawn independently, so variances add) or of the level; None for a point head.
        ``scale (M,)``: each row's target scale."""
        if not self.net.output.distribution:
            return None
        step = self.net.output.spread(raw).numpy() * scale[:, None]  # (M, h): each step's, in target units
        return np.sqrt(np.cumsum(step**2, axis=-1)) if self.config.target == "log_return" else step

    # -- forecasting ---------------------------------------------------------------------------------------
    def _scalers(self, symbol: str) -> tuple[Scaler, Scaler | None]:
        entry = self.series[symbol]["scalers"]
        return Scaler.from_dict(entry["target"]), Scaler.from_dict(entry["covariates"]) if entry["covariates"] else None

    def _inputs(self, panel: Panel) -> torch.Tensor:
        """The model input ``(S, T, width)`` at the end of every series of ``panel``, scaled by its own scalers."""
        T, h = self.config.window, self.config.horizon
        need = self.min_history
        rows = []  # the history's columns are the fitted ones: `Forecaster.history_panel` checked them
        for s, given in enumerate(panel.symbols):
            symbol = self.model_symbol(given, panel.n_series)
            values = panel.values[panel.rows(s)]
            if len(values) < need:
                raise ValueError(f"history of {given!r} has {len(values)} points; the model needs the last {need}")
            tail = values[-need:]
            target, covariates = self._scalers(symbol)
            past = np.empty((T, tail.shape[1]))
            past[:, 0] = target.transform(encode(tail[:, 0], self.config.target))[-T:]
            if covariates is not None:
                past[:, 1:] = covariates.transform(tail[-T:, 1:])
            row = [past]
            if self.known_future:
                from hpcast.data.calendars import future_dates
                from hpcast.features.calendar_features import calendar_features

                dates = future_dates(panel.index(s), self.freq, h, self.series[symbol].get("calendar"))
                features = calendar_features(dates, self.freq, self.series[symbol].get("calendar"))  # (h, K)
                future = np.zeros((T, features.size))
                future[-1] = features.reshape(-1)  # only the last step's head reads it
                row.append(future)
            if getattr(self.net, "symbols", None) is not None:
                row.append(np.full((T, 1), float(list(self.series).index(symbol))))
            rows.append(np.concatenate(row, axis=1))
        return torch.from_numpy(np.stack(rows).astype(np.float32))  # (S, T, width)

    def _raw(self, panel: Panel) -> tuple[torch.Tensor, np.ndarray]:
        """The head's raw output ``(S, h·p)`` at the end of every series of ``panel``, and each series' target
        scale ``(S,)``."""
        if self.net is None:
            raise RuntimeError("call fit() or load() before predict()")
        x = self._inputs(panel)
        self.net.eval()
        with torch.no_grad():
            raw = self.net(x.to(next(self.net.parameters()).device)).double().cpu()  # (S, h·p)
        scale = np.array([self._scalers(self.model_symbol(given, panel.n_series))[0].scale[0]
                          for given in panel.symbols])
        return raw, scale

    def _decoded(self, panel: Panel, z_scaled: np.ndarray) -> np.ndarray:
        """Scaled model-space values ``(S, ..., h)`` of each series -> value paths ``(S, ..., h)``."""
        paths = []
        for s, given in enumerate(panel.symbols):
            target, _ = self._scalers(self.model_symbol(given, panel.n_series))
            last = panel.values[panel.rows(s)][-1, 0]
            paths.append(decode(target.inverse(z_scaled[s]), np.full(z_scaled[s].shape[:-1], last),
                                self.config.target))
        return np.stack(paths)

    def _paths(self, panel: Panel, horizon: int) -> np.ndarray:
        return self._columns(panel, horizon)["forecast"]

    def _columns(self, panel: Panel, horizon: int) -> dict[str, np.ndarray]:
        """``forecast (S, horizon)``; a distribution head adds ``_band_scale``, its spread, which scales the bands."""
        raw, scale = self._raw(panel)
        columns = {"forecast": self._decoded(panel, self.net.output.point(raw).numpy())[:, :horizon]}
        if self._ewma_scaled:
            sigma = np.array([ewma_sigma(panel.values[panel.rows(s), 0]) for s in range(panel.n_series)])
            return {**columns, "_band_scale": self._ewma_spread(sigma)[:, :horizon]}
        spread = self._spread(raw, scale)
        return columns if spread is None else {**columns, "_band_scale": spread[:, :horizon]}

    def one_step_risk(self, panel: Panel, tails: dict[float, Sequence[float]] | None = None) -> dict[str, np.ndarray]:
        """A distribution head's one-step variance and expected shortfall of the next log return (log-return
        targets; `Forecaster.one_step_risk`). The ES keeps the head's tail shape but sits on the calibrated
        band: ``μ + (VaR − μ) · (ES_head − μ) / (VaR_head − μ)``, with VaR the band's lower edge."""
        if not self.net.output.distribution or self.config.target != "log_return":
            return {}
        raw, scale = self._raw(panel)
        head = self.net.output

        def step1(values: torch.Tensor) -> np.ndarray:  # scaled (S, h) -> the next log return (S,)
            return values[:, 0].numpy() * scale

        mu = step1(head.point(raw))
        out = {"variance": head.variance(raw)[:, 0].numpy() * scale**2}
        spread = self._spread(raw, scale)[:, 0]  # (S,)
        calibration = [self.series[self.model_symbol(g, panel.n_series)]["calibration"] for g in panel.symbols]
        for level, levels in (tails or {}).items():
            band = f"{round(2 * level - 1, 6):g}"
            if any(band not in c["quantiles"] for c in calibration):
                raise ValueError(f"var level ({level}) is the lower edge of the {float(band):.0%} band, which this "
                                 f"model was not calibrated for: fit it with {band} among its interval_levels")
            multiple = np.array([c["quantiles"][band][0] for c in calibration])
            var_line = mu - multiple * spread
            head_var = step1(head.quantile(raw, 1 - level))
            head_es = np.mean([step1(head.quantile(raw, u)) for u in levels], axis=0)
            out[f"es_{round(level * 1000)}"] = mu + (var_line - mu) * (head_es - mu) / (head_var - mu)
        return out

    @property
    def gives_samples(self) -> bool:
        return self.net is not None and self.net.output.distribution

    def sample_paths(self, history: Panel | None = None, n: int = 1000, horizon: int | None = None,
                     seed: int = 0) -> np.ndarray:
        """``n`` sample paths ``(S, n, horizon)`` of every series of ``history`` (default: the fitted data), in the
        data's units: each step drawn from the head's distribution independently (`hpcast.models.outputs`),
        unscaled, then decoded (log returns cumulated from the last value). Needs a distribution head.

        Example:
            >>> paths = model.sample_paths(n=2000)  # doctest: +SKIP
            >>> np.quantile(paths[:, :, -1], [0.05, 0.95], axis=1)  # the last step's 90% range  # doctest: +SKIP
        """
        panel = self.history_panel(history)
        horizon = self.check_horizon(horizon)
        raw, _ = self._raw(panel)
        z = self.net.output.sample(raw, n, torch.Generator().manual_seed(seed)).numpy()  # (S, h, n)
        return self._decoded(panel, np.swapaxes(z, 1, 2))[:, :, :horizon]  # (S, n, horizon)

    def forecast_paths(self, windows: np.ndarray, symbol: str | None = None) -> np.ndarray:
        """Point forecasts ``(B, h)`` for ``B`` windows of raw target values ``(B, min_history)`` of one series
        (a model without covariates or calendar features), in one batch: benchmarks score many windows so."""
        if self.net is None:
            raise RuntimeError("call fit() or load() before forecast_paths()")
        if len(self.columns or (None,)) > 1 or self.known_future or getattr(self.net, "symbols", None) is not None:
            raise ValueError("forecast_paths takes target windows only; this model also reads covariates")
        windows = np.asarray(windows, dtype=np.float64)
        if windows.ndim != 2 or windows.shape[1] != self.min_history:
            raise ValueError(f"windows must have shape (B, {self.min_history}), got {windows.shape}")
        target, _ = self._scalers(symbol or next(iter(self.series)))
        z = target.transform(encode(windows, self.config.target))  # (B, T)
        X = torch.from_numpy(z.astype(np.float32))[:, :, None]  # (B, T, 1)
        self.net.eval()
        with torch.no_grad():
            raw = self.net(X.to(next(self.net.parameters()).device)).double().cpu()  # (B, h·p)
        return decode(target.inverse(self.net.output.point(raw).numpy()), windows[:, -1], self.config.target)

    # -- artifacts -----------------------------------------------------------------------------------------
    def _own_manifest(self) -> dict[str, Any]:
        net = self.net
        return {"model": {"kind": self.kind, "class": type(net).__name__, "input_size": net.input_size,
                          "future_size": net.future_size, "n_series": net.n_series, "horizon": net.horizon},
                "feature_schema": {"target": self.config.target, "window": self.config.window,
                                   "columns": list(self.columns), "known_future": list(self.known_future),
                                   "scalers": {"target": self._scalers(next(iter(self.series)))[0].kind,
                                               "covariates": "standard"}}}

    def _restore(self, manifest: dict[str, Any]) -> torch.nn.Module:
        model = manifest["model"]
        return self._network(model["input_size"], model["future_size"], model["n_series"], "auto")
