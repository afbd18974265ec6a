r"""Output heads: what a network's last layer means, and the loss that trains it.

A recurrent network ends in one linear layer of ``h · p`` outputs: ``p`` raw numbers per forecast step. The
head reads them as a distribution of that step's (scaled) target and owns everything that depends on the
choice: the width ``p``, the training loss, the point forecast it reports, quantiles at any level and
samples. A point network and a distributional one are the same network with another head; a new
distribution is one class here and one row of `OUTPUTS`.

=========== === ================================================ ============================ ========
head         p  parameters (raw → constrained)                    loss                          point
=========== === ================================================ ============================ ========
point        1  the value                                        the config's (mse/mae/huber)  value
normal       2  μ; σ = softplus + ε                              −log N(y; μ, σ)               μ
student-t    3  μ; σ = softplus + ε; ν = 2 + softplus             −log t_ν(y; μ, σ)             μ
quantiles    Q  one value per level, sorted at prediction        pinball, mean over levels     median
=========== === ================================================ ============================ ========

Every head also scores itself by the CRPS (`Output.crps`; a point's is its absolute error), the one score
that compares heads trained by different losses: the fit records it on the validation windows
(``val_crps``), and `hpcast tune` ranks trials by it when the head is searched.

ν > 2 keeps the variance finite. Steps are modelled as marginals: a sample path draws each step of the
direct multi-step head independently (the independence copula), which is exact for the one-step horizon
and for returns that are serially uncorrelated given the window, and is how `RecurrentForecaster` builds
price paths (cumulated log returns) whose quantiles are the multi-step bands.

Everything here is in the network's scaled space; the estimator maps it to the data's units by the
target scaler's affine inverse (``μ·s + o``, ``σ·s``; quantiles and samples alike), then decodes.

Legend: B batch, T time steps, h horizon, p parameters per step, Q quantile levels, S samples;
``...`` stands for the leading ``(B,)`` or ``(B, T)``.

Example:
    >>> head = make_output("normal")
    >>> raw = torch.zeros(4, 3 * head.width)  # (B, h·p)
    >>> head.quantile(raw, 0.5).shape
    torch.Size([4, 3])
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats

from hpcast.models.crps import crps_normal, crps_quantiles, crps_student_t

__all__ = ["OUTPUTS", "NormalOutput", "Output", "PointOutput", "QuantileOutput", "StudentTOutput", "make_output"]

_EPS = 1e-4  # floor of a predicted scale: keeps the likelihood finite on a flat window


class Output:
    """One head: ``width`` raw outputs per step, their loss, point, quantiles and samples (module docstring)."""

    name: ClassVar[str]
    width: int = 1
    distribution: ClassVar[bool] = True  # False: a point head (no quantiles, no samples)

    def steps(self, raw: torch.Tensor) -> torch.Tensor:
        """``(..., h·p) -> (..., h, p)``."""
        return raw.unflatten(-1, (-1, self.width))

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-element training loss ``(..., h)`` of ``target (..., h)``."""
        raise NotImplementedError

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        """The point forecast ``(..., h)`` the head reports."""
        raise NotImplementedError

    def quantile(self, raw: torch.Tensor, q: float) -> torch.Tensor:
        """Each step's ``q``-quantile ``(..., h)``."""
        raise ValueError(f"the {self.name} head gives no quantiles (choose a distribution head)")

    def sample(self, raw: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` draws of every step ``(..., h, n)``, steps drawn independently."""
        raise ValueError(f"the {self.name} head gives no samples (choose a distribution head)")

    def spread(self, raw: torch.Tensor) -> torch.Tensor:
        """A scale of each step's distribution ``(..., h)`` (σ; for quantiles, the 10-90% range / 2.563), the
        unit in which conformal calibration measures errors."""
        raise ValueError(f"the {self.name} head gives no spread (choose a distribution head)")

    def variance(self, raw: torch.Tensor) -> torch.Tensor:
        """Each step's variance ``(..., h)`` (QLIKE scores it against a realised proxy)."""
        return self.spread(raw) ** 2

    def crps(self, raw: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        """CRPS of each step's distribution at ``target (..., h)``, float64 ``(..., h)``: the score every head
        shares (a point's is its absolute error), so validation windows rank heads trained by different
        losses (`hpcast.tune`). Closed forms from `hpcast.models.crps`."""
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "width": self.width}


class PointOutput(Output):
    """One number per step, trained by the config's loss (the trainer's table), as before heads existed."""

    name = "point"
    distribution = False

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        return raw

    def crps(self, raw: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        return np.abs(_numpy(target) - _numpy(raw))


class NormalOutput(Output):
    """μ and σ per step."""

    name = "normal"
    width = 2

    def _params(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        steps = self.steps(raw)  # (..., h, 2)
        return steps[..., 0], F.softplus(steps[..., 1]) + _EPS

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mu, sigma = self._params(raw)
        return torch.log(sigma) + 0.5 * ((target - mu) / sigma) ** 2 + 0.5 * math.log(2 * math.pi)

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        return self._params(raw)[0]

    def quantile(self, raw: torch.Tensor, q: float) -> torch.Tensor:
        mu, sigma = self._params(raw)
        return mu + sigma * float(stats.norm.ppf(_level(q)))

    def sample(self, raw: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        mu, sigma = self._params(raw)
        noise = torch.randn((*mu.shape, n), generator=generator, dtype=mu.dtype).to(mu.device)  # (..., h, n)
        return mu[..., None] + sigma[..., None] * noise

    def spread(self, raw: torch.Tensor) -> torch.Tensor:
        return self._params(raw)[1]

    def crps(self, raw: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        mu, sigma = self._params(raw)
        return crps_normal(_numpy(target), _numpy(mu), _numpy(sigma))


class StudentTOutput(Output):
    """μ, σ and ν per step: heavy tails learned per step (DeepAR's default head for returns)."""

    name = "student-t"
    width = 3

    def _params(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        steps = self.steps(raw)  # (..., h, 3)
        return steps[..., 0], F.softplus(steps[..., 1]) + _EPS, 2.0 + F.softplus(steps[..., 2])

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mu, sigma, nu = self._params(raw)
        z = (target - mu) / sigma
        return (torch.log(sigma) - torch.lgamma((nu + 1) / 2) + torch.lgamma(nu / 2)
                + 0.5 * torch.log(nu * math.pi) + (nu + 1) / 2 * torch.log1p(z**2 / nu))

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        return self._params(raw)[0]

    def quantile(self, raw: torch.Tensor, q: float) -> torch.Tensor:
        mu, sigma, nu = self._params(raw)
        t = stats.t.ppf(_level(q), nu.detach().double().cpu().numpy())  # torch has no Student-t inverse CDF
        return mu + sigma * torch.as_tensor(t, dtype=mu.dtype, device=mu.device)

    def sample(self, raw: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        mu, sigma, nu = self._params(raw)
        cpu = nu.detach().double().cpu()[..., None].expand(*nu.shape, n)  # (..., h, n)
        normal = torch.randn(cpu.shape, generator=generator, dtype=torch.float64)
        chi2 = _chi2(cpu, generator)  # (..., h, n)
        t = (normal / torch.sqrt(chi2 / cpu)).to(mu.dtype).to(mu.device)
        return mu[..., None] + sigma[..., None] * t

    def spread(self, raw: torch.Tensor) -> torch.Tensor:
        return self._params(raw)[1]

    def variance(self, raw: torch.Tensor) -> torch.Tensor:
        _, sigma, nu = self._params(raw)
        return sigma**2 * nu / (nu - 2)

    def crps(self, raw: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        mu, sigma, nu = self._params(raw)
        return crps_student_t(_numpy(target), _numpy(mu), _numpy(sigma), _numpy(nu))


class QuantileOutput(Output):
    """One output per quantile level, trained by the pinball loss; the median is the point forecast.

    Between levels, quantiles and samples interpolate linearly; beyond the extreme levels a sample takes the
    extreme quantile (the head says nothing about the tails past them: choose levels that cover what you read).
    """

    name = "quantiles"

    def __init__(self, levels: tuple[float, ...]) -> None:
        levels = tuple(float(q) for q in levels)
        if not levels or any(not 0 < q < 1 for q in levels) or list(levels) != sorted(set(levels)):
            raise ValueError(f"quantiles ({list(levels)}) must be increasing levels in (0, 1), each once")
        if 0.5 not in levels:
            raise ValueError(f"quantiles ({list(levels)}) must include 0.5: the median is the point forecast")
        self.levels = levels
        self.width = len(levels)

    def _values(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.sort(self.steps(raw), dim=-1).values  # (..., h, Q): no crossing at prediction

    def loss(self, raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        q = torch.tensor(self.levels, dtype=raw.dtype, device=raw.device)  # (Q,)
        error = target[..., None] - self.steps(raw)  # (..., h, Q)
        return torch.maximum(q * error, (q - 1) * error).mean(-1)

    def point(self, raw: torch.Tensor) -> torch.Tensor:
        return self._values(raw)[..., self.levels.index(0.5)]

    def quantile(self, raw: torch.Tensor, q: float) -> torch.Tensor:
        return _interpolate(self._values(raw), self.levels, torch.full((), _level(q), dtype=raw.dtype))

    def sample(self, raw: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
        values = self._values(raw)  # (..., h, Q)
        u = torch.rand((*values.shape[:-1], n), generator=generator, dtype=values.dtype).to(values.device)
        return _interpolate(values, self.levels, u)

    def spread(self, raw: torch.Tensor) -> torch.Tensor:
        return (self.quantile(raw, 0.9) - self.quantile(raw, 0.1)).clamp_min(_EPS) / 2.5631

    def crps(self, raw: torch.Tensor, target: torch.Tensor) -> np.ndarray:
        """The CRPS approximated at the head's own levels (`hpcast.models.crps.crps_quantiles`): comparable
        across heads only as far as the levels are many and spread."""
        values = _numpy(self._values(raw))  # (..., h, Q)
        return crps_quantiles(_numpy(target), {q: values[..., i] for i, q in enumerate(self.levels)})

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "width": self.width, "levels": list(self.levels)}


OUTPUTS: dict[str, type[Output]] = {head.name: head for head in (PointOutput, NormalOutput, StudentTOutput,
                                                                  QuantileOutput)}


def make_output(name: str, quantiles: tuple[float, ...] = ()) -> Output:
    """The head named ``name`` (a key of `OUTPUTS`); ``quantiles``: the levels of the quantiles head (a
    model's config gives them, `hpcast.forecast.spec.RecurrentConfig.quantiles`)."""
    if name not in OUTPUTS:
        raise ValueError(f"distribution ({name!r}) must be one of {', '.join(OUTPUTS)}")
    return QuantileOutput(quantiles) if name == "quantiles" else OUTPUTS[name]()


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().double().cpu().numpy()


def _level(q: float) -> float:
    if not 0 < q < 1:
        raise ValueError(f"quantile level ({q}) must be in (0, 1)")
    return float(q)


def _chi2(df: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """χ²(df) draws of the shape of ``df`` (float64, CPU) with ``generator``: the gamma inverse CDF of uniforms,
    since torch's gamma sampler takes no generator."""
    u = torch.rand(df.shape, generator=generator, dtype=torch.float64)
    return torch.from_numpy(stats.chi2.ppf(u.numpy(), df.numpy()))


def _interpolate(values: torch.Tensor, levels: tuple[float, ...], u: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear quantile function through ``(levels, values (..., h, Q))`` at ``u`` (a scalar or
    ``(..., h, n)``), flat beyond the extreme levels; ``(..., h)`` or ``(..., h, n)``."""
    grid = torch.tensor(levels, dtype=values.dtype, device=values.device)  # (Q,)
    scalar = u.ndim == 0
    u = u.to(values.device).expand(*values.shape[:-1], 1) if scalar else u  # (..., h, n)
    clamped = u.clamp(grid[0], grid[-1])
    right = torch.searchsorted(grid, clamped.contiguous()).clamp(1, len(levels) - 1)  # (..., h, n)
    left = right - 1
    x0, x1 = grid[left], grid[right]
    y0, y1 = torch.gather(values, -1, left), torch.gather(values, -1, right)
    out = y0 + (y1 - y0) * (clamped - x0) / (x1 - x0)
    return out[..., 0] if scalar else out

