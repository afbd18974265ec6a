"""Invertible per-column scalers, fitted on the training span only and saved as JSON.

A scaler is plain state (offset, scale per column) so it serialises exactly and cannot leak: whoever
fits it chooses the rows, and `fit_scaler` never sees anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

__all__ = ["Scaler", "fit_scaler"]

ScalerKind = Literal["minmax", "standard", "scale"]


@dataclass(frozen=True)
class Scaler:
    """``z = (x - offset) / scale`` per column; constant columns get scale 1 (they map to 0).

    Example:
        >>> s = fit_scaler("minmax", np.array([[1.0], [3.0]]))
        >>> s.transform(np.array([[2.0]])).tolist()
        [[0.5]]
    """

    kind: ScalerKind
    offset: tuple[float, ...]
    scale: tuple[float, ...]

    def transform(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return (x - np.asarray(self.offset)) / np.asarray(self.scale)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        return z * np.asarray(self.scale) + np.asarray(self.offset)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "offset": list(self.offset), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scaler:
        return cls(kind=data["kind"], offset=tuple(map(float, data["offset"])),
                   scale=tuple(map(float, data["scale"])))


def fit_scaler(kind: ScalerKind, train: np.ndarray) -> Scaler:
    """Fit on ``train`` (shape ``(T,)`` or ``(T, F)``) and nothing else.

    Min-max maps the training range to [0, 1]; standard maps to zero mean, unit variance (population std);
    scale divides by the root mean square and keeps zero at zero (offset 0), so a model output of 0 decodes
    to exactly 0, whatever the training span's mean was.
    """
    train = np.asarray(train, dtype=np.float64)
    if train.ndim == 1:
        train = train[:, None]
    if train.shape[0] < 2:
        raise ValueError(f"train rows ({train.shape[0]}) must be >= 2 to fit a scaler")
    if not np.isfinite(train).all():
        raise ValueError("train must be finite to fit a scaler (found NaN or inf)")
    if kind == "minmax":
        offset, scale = train.min(axis=0), train.max(axis=0) - train.min(axis=0)
    elif kind == "standard":
        offset, scale = train.mean(axis=0), train.std(axis=0)
    elif kind == "scale":
        offset, scale = np.zeros(train.shape[1]), np.sqrt(np.mean(train**2, axis=0))
    else:
        raise ValueError(f"kind ({kind!r}) must be 'minmax', 'standard' or 'scale'")
    scale = np.where(scale > 0, scale, 1.0)
    return Scaler(kind, tuple(map(float, offset)), tuple(map(float, scale)))
