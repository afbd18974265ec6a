import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.forecast.artifacts import FORMAT_VERSION, ArtifactError, read_artifact, upgrade_v1
from hpcast.forecast.base import load_forecaster
from hpcast.forecast.recurrent import RecurrentForecaster

FIXTURE = Path(__file__).parent.parent / "fixtures" / "artifact_v1"

# The manifest's top-level keys are part of the file format: changing them needs a format_version bump.
MANIFEST_KEYS = {"format", "format_version", "hpcast_version", "torch_version", "model", "config", "freq", "seed",
                 "feature_schema", "series", "calibration", "data", "training", "metrics", "inputs", "weights_sha256"}
SERIES_KEYS = {"symbol", "calendar", "scalers", "calibration", "data"}


@pytest.fixture
def fitted(price_series, tiny_config):
    return RecurrentForecaster(tiny_config).fit(price_series, "B")


def test_save_load_round_trip_predicts_identically(fitted, price_series, tmp_path):
    folder = fitted.save(tmp_path / "model", metrics={"note": "x"})
    loaded = RecurrentForecaster.load(folder, history=price_series)
    assert loaded.predict().equals(fitted.predict())
    manifest = json.loads((folder / "manifest.json").read_text())
    assert set(manifest) == MANIFEST_KEYS
    assert manifest["format_version"] == FORMAT_VERSION == 2
    assert [set(entry) for entry in manifest["series"]] == [SERIES_KEYS]
    assert manifest["model"]["kind"] == manifest["config"]["model"]["kind"] == "lstm"
    assert manifest["weights_sha256"] == hashlib.sha256((folder / "weights.safetensors").read_bytes()).hexdigest()


def test_a_panel_model_round_trips_through_load_forecaster(price_series, tiny_config, tmp_path):
    other = pd.Series(np.linspace(50.0, 80.0, 150), index=pd.bdate_range("2020-03-02", periods=150), name="close")
    panel = Panel.from_frames({"aaa": price_series.to_frame("close"), "bbb": other.to_frame("close")}, "B")
    fitted = RecurrentForecaster(tiny_config).fit(panel)
    folder = fitted.save(tmp_path / "model")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [entry["symbol"] for entry in manifest["series"]] == ["aaa", "bbb"]
    loaded = load_forecaster(folder, history=panel)
    assert isinstance(loaded, RecurrentForecaster)
    pd.testing.assert_frame_equal(loaded.predict(), fitted.predict())


def test_loading_never_unpickles(fitted, price_series, tmp_path, monkeypatch):
    folder = fitted.save(tmp_path / "model")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle used while loading a model")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    RecurrentForecaster.load(folder, history=price_series).predict()
    load_forecaster(FIXTURE / "model", history=load_bundled("air_passengers").series()).predict()


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
    with pytest.raises(ArtifactError, match=r"v99 is not readable by this hpcast \(reads hpcast-model v<=2\)"):
        read_artifact(folder)


def test_an_old_artifact_keeps_loading_and_predicting_the_same_numbers():
    """``fixtures/artifact_v1`` was written by hpcast 0.1.0 (tiny model on air_passengers); see expected.json."""
    expected = json.loads((FIXTURE / "expected.json").read_text())
    history = load_bundled("air_passengers").series()
    for loader in (RecurrentForecaster.load, load_forecaster):
        forecast = loader(FIXTURE / "model", history=history).predict()
        np.testing.assert_allclose(forecast["forecast"], expected["forecast"], rtol=1e-6)
        np.testing.assert_allclose(forecast["upper_95"], expected["upper_95"], rtol=1e-6)
        assert list(forecast["date"]) == list(pd.date_range("1961-01-01", periods=6, freq="MS"))


def test_a_v1_manifest_is_upgraded_on_read_with_the_same_numbers():
    v1 = json.loads((FIXTURE / "model" / "manifest.json").read_text())
    assert v1["format_version"] == 1
    _, manifest = read_artifact(FIXTURE / "model")
    assert manifest == upgrade_v1(v1)
    assert set(manifest) == MANIFEST_KEYS and manifest["format_version"] == 2
    assert manifest["model"]["kind"] == manifest["config"]["model"]["kind"] == "lstm"
    assert "architecture" not in manifest["config"] and "scaler" not in manifest
    (entry,) = manifest["series"]
    assert set(entry) == SERIES_KEYS
    assert entry["scalers"] == {"target": v1["scaler"], "covariates": None}
    assert entry["calibration"] == v1["calibration"] and entry["data"] == v1["data"]
    assert manifest["feature_schema"]["columns"] == ["value"] and manifest["feature_schema"]["known_future"] == []
