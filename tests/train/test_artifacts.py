import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from hpcast.data import load_bundled
from hpcast.train.artifacts import ArtifactError, read_artifact
from hpcast.train.forecaster import LSTMForecaster

FIXTURE = Path(__file__).parent.parent / "fixtures" / "artifact_v1"

# The manifest's top-level keys are part of the file format: changing them needs a format_version bump.
MANIFEST_KEYS = {"format", "format_version", "hpcast_version", "torch_version", "model", "config", "freq", "seed",
                 "feature_schema", "scaler", "calibration", "data", "training", "metrics", "weights_sha256"}


@pytest.fixture
def fitted(price_series, tiny_config):
    return LSTMForecaster(tiny_config).fit(price_series, "B")


def test_save_load_round_trip_predicts_identically(fitted, price_series, tmp_path):
    folder = fitted.save(tmp_path / "model", metrics={"note": "x"})
    loaded = LSTMForecaster.load(folder, history=price_series)
    assert loaded.predict().equals(fitted.predict())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["weights_sha256"] == hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()


def test_loading_never_unpickles(fitted, price_series, tmp_path, monkeypatch):
    folder = fitted.save(tmp_path / "model")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    LSTMForecaster.load(folder, history=price_series).predict()


def test_tampered_weights_are_refused(fitted, tmp_path):
    folder = fitted.save(tmp_path / "model")
    blob = bytearray((folder / "weights.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (folder / "weights.safetensors").write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="does not match the SHA-256"):
        read_artifact(folder)


def test_unknown_format_and_missing_files_are_refused(fitted, tmp_path):
    with pytest.raises(ArtifactError, match="not a model folder"):
        read_artifact(tmp_path)
    folder = fitted.save(tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "format_version": 99}))
    with pytest.raises(ArtifactError, match="v99 is not readable"):
        read_artifact(folder)


def test_an_old_artifact_keeps_loading_and_predicting_the_same_numbers():
    """``fixtures/artifact_v1`` was written by hpcast 0.1.0 (tiny model on air_passengers); see expected.json."""
    expected = json.loads((FIXTURE / "expected.json").read_text())
    history = load_bundled("air_passengers").series()
    forecast = LSTMForecaster.load(FIXTURE / "model", history=history).predict()
    np.testing.assert_allclose(forecast["forecast"], expected["forecast"], rtol=1e-6)
    np.testing.assert_allclose(forecast["upper_95"], expected["upper_95"], rtol=1e-6)
