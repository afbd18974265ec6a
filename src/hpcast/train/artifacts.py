"""Model artifacts: ``weights.safetensors`` + ``manifest.json``, written atomically, loaded without pickle.

The manifest says everything needed to rebuild and trust the model: format version, resolved config,
scaler state, conformal calibration, feature schema, data fingerprint and calendar, metrics, package and torch
versions, seed, and the SHA-256 of the weights file (checked on load, so a swapped or truncated weights
file is refused rather than used).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load, save

from hpcast import __version__
from hpcast._io import atomic_write_bytes, atomic_write_json
from hpcast.config import RunConfig, from_dict, to_dict

__all__ = ["FORMAT", "FORMAT_VERSION", "ArtifactError", "SavedModel", "fingerprint", "read_artifact", "write_artifact"]

FORMAT, FORMAT_VERSION = "hpcast-model", 1
WEIGHTS, MANIFEST = "weights.safetensors", "manifest.json"


class ArtifactError(ValueError):
    """A model folder is missing, of an unknown format, or its weights do not match its manifest."""


def fingerprint(series: pd.Series) -> str:
    """SHA-256 of a series' dates and values: same data in, same fingerprint out."""
    digest = hashlib.sha256()
    digest.update(pd.DatetimeIndex(series.index).as_unit("ns").asi8.tobytes())
    digest.update(np.ascontiguousarray(series.to_numpy(dtype=np.float64)).tobytes())
    return digest.hexdigest()


def write_artifact(folder: str | Path, state: dict[str, torch.Tensor], manifest: dict[str, Any]) -> Path:
    """Write weights first, then the manifest naming their hash; return the folder."""
    folder = Path(folder)
    blob = save({k: v.detach().cpu().contiguous() for k, v in state.items()})
    atomic_write_bytes(folder / WEIGHTS, blob)
    atomic_write_json(folder / MANIFEST, {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest,
                                          "weights_sha256": hashlib.sha256(blob).hexdigest()})
    return folder


def read_artifact(folder: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read and verify an artifact folder: (weights, manifest)."""
    folder = Path(folder)
    if not (folder / MANIFEST).is_file() or not (folder / WEIGHTS).is_file():
        raise ArtifactError(f"{folder}: not a model folder (expected {WEIGHTS} and {MANIFEST})")
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest.get("format") != FORMAT or manifest.get("format_version", 0) > FORMAT_VERSION:
        raise ArtifactError(f"{folder}: format {manifest.get('format')!r} v{manifest.get('format_version')} "
                            f"is not readable by this hpcast (reads {FORMAT} v<={FORMAT_VERSION})")
    blob = (folder / WEIGHTS).read_bytes()
    if hashlib.sha256(blob).hexdigest() != manifest.get("weights_sha256"):
        raise ArtifactError(f"{folder}: {WEIGHTS} does not match the SHA-256 recorded in {MANIFEST}")
    return load(blob), manifest


class SavedModel:
    """The artifact side of an estimator: one manifest layout and one rebuild for every network.

    A subclass fills in only what is its own: `_own_manifest` (the ``model`` entry naming the network, the
    feature schema and its fitted transforms) and `_restore` (those transforms back, and an unloaded network).
    """

    config: RunConfig
    freq: str | None
    calendar: str | None  # the calendar of a daily series, saved in the manifest's "data" entry
    calibration: dict[str, Any]
    data_info: dict[str, Any]
    history: pd.Series | None
    net: torch.nn.Module | None
    result: Any  # hpcast.train.trainer.TrainResult once fitted

    def __init__(self, config: RunConfig | None = None) -> None:
        raise NotImplementedError

    def _own_manifest(self) -> dict[str, Any]:
        raise NotImplementedError

    def _restore(self, manifest: dict[str, Any]) -> torch.nn.Module:
        raise NotImplementedError

    def manifest(self, metrics: dict[str, Any] | None = None) -> dict[str, Any]:
        """What `write_artifact` stores beside the weights (see the module docstring)."""
        assert self.net is not None and self.result is not None, "call fit() before manifest()"
        return {"hpcast_version": __version__, "torch_version": torch.__version__, **self._own_manifest(),
                "config": to_dict(self.config), "freq": self.freq, "seed": self.config.train.seed,
                "calibration": self.calibration, "data": {**self.data_info, "calendar": self.calendar},
                "training": self.result.summary(),
                "metrics": metrics or {}}

    @classmethod
    def from_artifact(cls, weights: dict[str, torch.Tensor], manifest: dict[str, Any],
                      history: pd.Series | None = None) -> Self:
        """Rebuild from weights and a manifest already read (and checked) by `read_artifact`."""
        estimator = cls(from_dict(RunConfig, manifest["config"]))
        estimator.freq, estimator.calibration = manifest["freq"], manifest["calibration"]
        estimator.data_info, estimator.history = manifest["data"], history
        estimator.calendar = manifest["data"].get("calendar")  # absent before calendars: the freq's default
        net = estimator.net = estimator._restore(manifest)
        net.load_state_dict(weights)
        net.eval()
        return estimator

    def save(self, folder: str | Path, metrics: dict[str, Any] | None = None) -> Path:
        """Write ``weights.safetensors`` + ``manifest.json`` into ``folder``."""
        assert self.net is not None
        return write_artifact(folder, self.net.state_dict(), self.manifest(metrics))

    @classmethod
    def load(cls, folder: str | Path, history: pd.Series | None = None) -> Self:
        """Rebuild from an artifact folder (no pickle); ``history`` is what `predict` continues from."""
        return cls.from_artifact(*read_artifact(folder), history)
