"""Model artifacts: ``weights.safetensors`` + ``manifest.json``, written atomically, loaded without pickle.

The manifest says everything needed to rebuild and trust the model: format version, resolved config,
per-series scalers, calendars and conformal calibration, feature schema, data fingerprint, metrics,
package and torch versions, seed, and the SHA-256 of the weights file (checked on load, so a swapped or
truncated weights file is refused rather than used).

Format versions: v2 (panels: a ``series`` list, one entry per symbol, and the model's ``kind``); v1 (one
series; written by hpcast 0.1) is upgraded on read by `upgrade_v1`, so old models keep loading.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load, save

from hpcast._io import atomic_write_bytes, atomic_write_json
from hpcast.errors import ArtifactError

__all__ = ["FORMAT", "FORMAT_VERSION", "fingerprint", "read_artifact", "upgrade_v1",
           "write_artifact"]

FORMAT, FORMAT_VERSION = "hpcast-model", 2
WEIGHTS, MANIFEST = "weights.safetensors", "manifest.json"


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
    """Read and verify an artifact folder: (weights, manifest in the current format)."""
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
    return load(blob), upgrade_v1(manifest) if manifest["format_version"] == 1 else manifest


def _upgrade_config_v1(config: dict[str, Any]) -> dict[str, Any]:
    """v1 configs carried every model's options and ``architecture`` to pick one; v2 holds one, by kind."""
    config = dict(config)
    kind = config.pop("architecture", "lstm")
    spectro = config.pop("spectro", None)
    if kind == "spectro-cnn":
        spectro = dict(spectro or {})
        stft = {key: spectro.pop(key) for key in ("window", "n_fft", "hop", "taper") if key in spectro}
        config["model"] = {"kind": kind, "spectrogram": stft, **spectro}
    else:
        config["model"] = {"kind": kind, **config.get("model", {})}
    return config


def upgrade_v1(manifest: dict[str, Any]) -> dict[str, Any]:
    """A v1 manifest (one series, hpcast 0.1) in the v2 layout: the same numbers, one ``series`` entry."""
    manifest = dict(manifest)
    manifest["config"] = _upgrade_config_v1(manifest["config"])
    data = dict(manifest.get("data", {}))
    model = dict(manifest["model"])
    entry: dict[str, Any] = {"symbol": data.get("name") or "series", "calendar": data.get("calendar"),
                             "calibration": manifest.get("calibration", {}), "data": data}
    if model["class"] == "LSTMNet":
        model.update(kind="lstm", future_size=0, n_series=0)
        entry["scalers"] = {"target": manifest.pop("scaler"), "covariates": None}
        schema = manifest["feature_schema"]
        manifest["feature_schema"] = {**schema, "columns": [data.get("column") or "value"], "known_future": []}
        manifest["inputs"] = {"columns": [data.get("column") or "value"], "known_future": []}
    else:
        model["kind"] = "spectro-cnn"
        manifest["inputs"] = {"columns": [], "known_future": []}  # v1 spectro-cnn: the target only
    manifest["model"] = model
    manifest["series"] = [entry]
    manifest["format_version"] = 2
    return manifest
