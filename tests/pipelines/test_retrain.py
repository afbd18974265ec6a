"""The retrain loop is fair and never strands an asset: live skill, unseen folds, failures reported per asset.

Real components: a Parquet store with bundled prices (2014-2016, ~750 business days) and MLflow on SQLite.
Champions are trained on all but the last few points of the store's series, like a model registered by
``hpcast train --register`` some days before the retrain runs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from hpcast.cli import cli
from hpcast.config import RunConfig, TrainConfig
from hpcast.forecast.lstm import LSTMConfig
from hpcast.invest.outlook import skill_words
from hpcast.jobs import train_job
from hpcast.pipelines import retrain, return_shift
from hpcast.registry import CHALLENGER, CHAMPION, Registry, RegistryError
from hpcast.store import FeatureStore
from hpcast.store.ingest import backfill

CONFIG = RunConfig(window=20, horizon=5, model=LSTMConfig(layers=(8,), dropout=(0.0,)),
                   train=TrainConfig(epochs=2, batch_size=64, patience=2, seed=3))
# a model no better than guessing the middle of its training range: it cannot beat a random walk
HOPELESS = dataclasses.replace(CONFIG, target="level", train=dataclasses.replace(CONFIG.train, epochs=1, lr=1e-6))


def _store(*assets: str) -> FeatureStore:
    store = FeatureStore()
    backfill(store, list(assets), start="2014-01-01", end="2016-12-30")
    return store


def _champion(store: FeatureStore, registry: Registry, asset: str, folder: Path, *, unseen: int,
              config: RunConfig = CONFIG) -> pd.Timestamp:
    """Train on all but the last ``unseen`` points and register with no tags; the training end date."""
    data = store.dataset(asset)
    end = data.series().index[-unseen - 1]
    data = dataclasses.replace(data, frame=data.frame[data.frame["date"] <= end].reset_index(drop=True))
    train_job(data, config, folder, quiet=True)
    registry.register(registry.log_training(folder, asset), asset)
    return end


def test_the_recent_window_never_overlaps_the_champion_training_span() -> None:
    rng = np.random.default_rng(1)
    dates = pd.bdate_range("2015-01-01", periods=400)
    series = pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400))), index=dates)
    fresh = return_shift(series, dates[-6], 60, reference_start=dates[0])  # trained through 5 days ago
    assert (fresh.recent_points, fresh.ks_pvalue, fresh.shifted) == (5, None, False)
    assert fresh.notes == (f"only 5 returns after the champion's training end ({dates[-6].date()}): too few for a "
                           "KS test (10 needed), and returns it was trained on are never the recent window")
    older = return_shift(series, dates[-101], 60, reference_start=dates[0])
    assert (older.recent_points, older.reference_points) == (60, 299) and older.ks_pvalue is not None
    between = return_shift(series, dates[-31], 60, reference_start=dates[0])
    assert between.recent_points == 30  # all the returns after the training end, not 60 reaching into it


@pytest.mark.slow
def test_a_registered_champion_gets_live_skill_and_is_compared_only_on_folds_it_never_saw(home: Path) -> None:
    store, registry = _store("sp500"), Registry()
    series = store.dataset("sp500").series()
    end = _champion(store, registry, "sp500", home / "champion", unseen=12,
                    config=dataclasses.replace(CONFIG, horizon=8))  # can forecast the challenger's 5 steps

    decision = retrain(store, registry, ["sp500"], CONFIG, home / "runs", force=True)[0]
    champion = registry.version("sp500", 1).tags
    assert champion["live_points"] == "8" and champion["live_through"] == "2016-12-30"  # one 8-step fold of 12
    assert float(champion["live_mase"]) == pytest.approx(decision.drift.live_mase, abs=1e-6)
    assert float(champion["live_naive_mase"]) > 0
    assert decision.drift.recent_points == 12  # the returns after its training end, none it was trained on

    # the default 15 comparison points would reach back into the champion's data: 2 whole folds after it
    assert decision.folds == [series.index[-11].date().isoformat(), series.index[-6].date().isoformat()]
    assert min(pd.Timestamp(f) for f in decision.folds) > end  # the champion never saw a forecast point
    challenger = registry.version("sp500", decision.challenger_version).tags
    assert challenger["data_end"] == decision.folds[0] and challenger["folds"] == ",".join(decision.folds)
    assert set(decision.mase) == {"challenger", "champion", "naive"}
    assert "2 folds from " in decision.reason and "after both models' training data" in decision.reason
    for version, model in ((1, "champion"), (decision.challenger_version, "challenger")):
        tags = registry.version("sp500", version).tags
        assert tags["beats_naive"] == str(decision.mase[model] < decision.mase["naive"]).lower()
        assert float(tags["compared_mase"]) == pytest.approx(decision.mase[model], abs=1e-6)


@pytest.mark.slow
def test_when_neither_model_beats_naive_the_versions_and_the_page_say_so(home: Path) -> None:
    store, registry = _store("gold"), Registry()
    _champion(store, registry, "gold", home / "champion", unseen=20, config=HOPELESS)
    decision = retrain(store, registry, ["gold"], HOPELESS, home / "runs", force=True)[0]
    assert decision.none_beat_naive and decision.mase["naive"] < min(decision.mase["champion"],
                                                                     decision.mase["challenger"])
    assert f"neither model beat naive (MASE {decision.mase['naive']:.3f}) on these folds" in decision.reason
    assert decision.to_dict()["none_beat_naive"] is True
    for version in (1, 2):
        assert registry.version("gold", version).tags["beats_naive"] == "false"
    champion = registry.version_by_alias("gold", CHAMPION)
    words, beats = skill_words("gold", champion, registry.version("gold", champion).tags)
    assert beats is False and "did not beat a random walk in the latest retrain's comparison" in words


@pytest.mark.slow
def test_a_horizon_mismatch_fails_that_asset_and_the_others_go_on(home: Path) -> None:
    store, registry = _store("sp500", "gold", "nasdaq"), Registry()
    _champion(store, registry, "sp500", home / "c1", unseen=20, config=dataclasses.replace(CONFIG, horizon=3))
    _champion(store, registry, "gold", home / "c2", unseen=3)  # less than one horizon since it was trained
    done = CliRunner().invoke(cli, ["pipeline", "retrain", "--assets", "sp500,gold,nasdaq", "--force",
                                    "--window", "20", "--horizon", "5", "--layers", "8", "--dropout", "0",
                                    "--epochs", "2", "--seed", "3", "--out", str(home / "runs")])
    assert done.exit_code == 1, done.output
    assert "1 asset(s) failed (the others were retrained):" in done.output
    assert ("sp500: the champion (v1) forecasts 3 steps, fewer than the challenger's horizon (5): they cannot "
            "forecast the same folds") in " ".join(done.output.split())
    assert [v.version for v in registry.versions("sp500")] == [1]  # no challenger trained for nothing
    assert [v.version for v in registry.versions("gold")] == [1]  # kept: no fold it never saw
    assert registry.version_by_alias("nasdaq", CHAMPION) == 1  # the asset after the failure still ran
    recorded = registry.client.search_runs([registry.experiment("hpcast-pipeline")], order_by=["start_time ASC"])
    assert [(r.data.tags["hpcast.asset"], r.data.tags["hpcast.decision"]) for r in recorded] == [
        ("sp500", "failed"), ("gold", "kept champion"), ("nasdaq", "promoted")]
    gold = recorded[1].data.tags["hpcast.reason"]
    assert gold.startswith("no fair comparison: the champion (v1) was trained through ") and (
        "only 3 point(s) came after it, fewer than one horizon (5)") in gold
    assert (home / "runs" / "nasdaq" / "decision.json").is_file()  # a partial failure keeps the run folder
    assert registry.version_by_alias("gold", CHALLENGER) == 1


def test_a_registry_that_cannot_answer_stops_the_run_instead_of_meaning_no_champion(
        home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = _store("gold")
    with pytest.raises(RegistryError, match=rf"registry at http://127\.0\.0\.1:{port} could not answer"):
        retrain(store, Registry(f"http://127.0.0.1:{port}"), ["gold"], CONFIG, home / "runs")
    assert not (home / "runs" / "gold").exists()  # no challenger was trained as if there were no champion


@pytest.mark.slow
def test_train_register_records_a_backtest_so_the_page_has_a_figure(home: Path) -> None:
    done = CliRunner().invoke(cli, ["train", "--dataset", "air_passengers", "--window", "8", "--horizon", "3",
                                    "--layers", "6", "--dropout", "0", "--epochs", "2", "--quiet",
                                    "--out", str(home / "air"), "--register", "air"])
    assert done.exit_code == 0, done.output
    tags = Registry().version("air", 1).tags
    assert tags["folds"] == "1960-06-01,1960-09-01"  # the default test_size: 2 horizons of monthly data
    assert float(tags["backtest_mase"]) > 0 and float(tags["naive_mase"]) > 0
    assert f"backtest: MASE {float(tags['backtest_mase']):.3f} against {float(tags['naive_mase']):.3f} for naive" in (
        done.output)
    assert "in backtests (MASE" in skill_words("air", 1, tags)[0]


def _global_champion(store: FeatureStore, registry: Registry, key: str, symbols: tuple[str, ...], folder: Path, *,
                     unseen: int, config: RunConfig = CONFIG) -> pd.Timestamp:
    """One model over the panel of ``symbols``, trained on all but their last ``unseen`` dates and registered
    once as ``key``; the training end date."""
    from hpcast.data.panel import Panel

    datasets = [store.dataset(symbol) for symbol in symbols]
    panel = Panel.from_frames({d.name: d.series().to_frame() for d in datasets}, "B",
                              {d.name: d.calendar for d in datasets})
    end = pd.DatetimeIndex(np.unique(panel.dates))[-unseen - 1]
    train_job(panel.until(end), config, folder, quiet=True)
    registry.register(registry.log_training(folder, key), key)
    return end


@pytest.mark.slow
def test_assets_served_by_a_global_champion_retrain_that_model_once_on_all_its_symbols(home: Path) -> None:
    store, registry = FeatureStore(), Registry()
    backfill(store, ["aapl", "msft", "gold"], start="2010-01-01", end="2012-12-31")  # the bundled stocks end 2013
    dates = store.dataset("msft").series().index
    end = _global_champion(store, registry, "global-tech", ("aapl", "msft"), home / "champion", unseen=12,
                           config=dataclasses.replace(CONFIG, horizon=8))

    decisions = retrain(store, registry, ["msft", "gold", "aapl"], CONFIG, home / "runs", force=True)
    assert [(d.asset, d.symbols) for d in decisions] == [("global-tech", ["aapl", "msft"]), ("gold", ["gold"])]
    tech = decisions[0]
    assert set(tech.mase) == {"challenger", "champion", "naive"} and tech.action in ("promoted", "kept champion")
    # the same fair folds as for one series: whole horizons after both training ends, on the panel's dates
    assert tech.folds == [dates[-11].date().isoformat(), dates[-6].date().isoformat()]
    assert min(pd.Timestamp(f) for f in tech.folds) > end
    champion = registry.version("global-tech", 1).tags
    assert champion["live_points"] == "8" and champion["beats_naive"] in ("true", "false")
    challenger = registry.versions("global-tech")[0]
    assert challenger.version == tech.challenger_version == 2 and challenger.symbols == ("aapl", "msft")
    assert challenger.tags["data_end"] == tech.folds[0] and float(challenger.tags["compared_mase"]) == pytest.approx(
        tech.mase["challenger"], abs=1e-6)
    assert registry.assets() == ["global-tech", "gold"]  # no per-asset model was made for aapl or msft
    serving = 2 if tech.action == "promoted" else 1
    assert {s: (registry.resolve(s).key, registry.resolve(s).version) for s in ("aapl", "msft")} == {
        "aapl": ("global-tech", serving), "msft": ("global-tech", serving)}
    assert (home / "runs" / "global-tech" / "decision.json").is_file()
    recorded = registry.client.search_runs([registry.experiment("hpcast-pipeline")], order_by=["start_time ASC"])
    assert [(r.data.tags["hpcast.asset"], r.data.tags["hpcast.symbols"]) for r in recorded] == [
        ("global-tech", "aapl,msft"), ("gold", "gold")]


def test_a_global_champion_whose_symbols_are_not_all_in_the_store_fails_with_the_reason(home: Path) -> None:
    from hpcast.pipelines.retrain import _store_panel

    store = FeatureStore()
    backfill(store, ["aapl"], start="2012-01-01", end="2012-12-31")
    with pytest.raises(ValueError, match=r"the global model global-tech covers msft, not prices symbol\(s\) in the "
                                         r"store \(aapl\): it is retrained only on every series it covers"):
        _store_panel(store, "global-tech", ("aapl", "msft"))
