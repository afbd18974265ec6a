"""`train_many` through its users: backtest folds, seed-ensemble members and tuning trials trained as one fleet
(``fleet="on"``, here on the CPU) give what they give trained one after another (``fleet="off"``), to float32
rounding; jobs that cannot fuse are trained alone."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hpcast.config import configure
from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.evaluate.walkforward import backtest
from hpcast.forecast.base import fit_many
from hpcast.forecast.ensemble import EnsembleForecaster
from hpcast.forecast.recurrent import RecurrentForecaster
from hpcast.train.context import RunContext
from hpcast.train.many import TrainingJob, fusion_key, train_many

FAST = {"epochs": 3, "layers": [5], "dropout": [0.0], "seed": 2,  # no dropout: a fleet draws its own masks
        "schedule": "constant"}  # one-cycle ends near lr 0: near-tied last epochs would make best_epoch a coin toss


@pytest.fixture(scope="module")
def air() -> Panel:
    return Panel.from_dataset(load_bundled("air_passengers"))


@pytest.fixture
def fleets(monkeypatch) -> list[int]:
    """The size of every fused run `train_many` starts (the real `train_fleet`, counted)."""
    import hpcast.train.fleet

    sizes: list[int] = []
    real = hpcast.train.fleet.train_fleet

    def counted(models, *args):
        sizes.append(len(models))
        return real(models, *args)

    monkeypatch.setattr(hpcast.train.fleet, "train_fleet", counted)
    return sizes


def _both(make):
    return make("off"), make("on")


def test_backtest_folds_trained_as_a_fleet_score_as_folds_trained_alone(air: Panel, fleets: list[int]):
    alone, fused = _both(lambda fleet: backtest(air, config=configure(**FAST, fleet=fleet, test_size=24),
                                                models=("lstm", "naive")))
    assert len(alone.origins) == 2 and alone.origins == fused.origins
    assert fleets == [2]  # both folds' networks in one run
    lstm = ["forecast", "lower_80", "upper_95"]
    a = alone.predictions[alone.predictions.model == "lstm"][lstm].to_numpy()
    f = fused.predictions[fused.predictions.model == "lstm"][lstm].to_numpy()
    np.testing.assert_allclose(f, a, rtol=2e-4)
    assert not np.allclose(a[:12], a[12:24])  # two folds, two different models


def test_ensemble_members_trained_as_a_fleet_match_members_trained_alone(air: Panel, fleets: list[int]):
    alone, fused = _both(lambda fleet: EnsembleForecaster(configure(**FAST, fleet=fleet, ensemble=3)).fit(air))
    assert fleets == [3]
    assert [m["best_epoch"] for m in fused.member_facts] == [m["best_epoch"] for m in alone.member_facts]
    np.testing.assert_allclose([m["best_val_loss"] for m in fused.member_facts],
                               [m["best_val_loss"] for m in alone.member_facts], rtol=1e-4)
    np.testing.assert_allclose(fused.predict()[["forecast", "spread"]].to_numpy(),
                               alone.predict()[["forecast", "spread"]].to_numpy(), rtol=2e-4)


def test_models_of_different_shapes_train_in_separate_groups(air: Panel, fleets: list[int]):
    """Two hidden sizes under fleet="on": two fleets (or a model alone), each model as if trained alone."""
    sizes = [[4], [6], [4], [6]]
    make = [lambda fleet, size=size: RecurrentForecaster(configure(**{**FAST, "layers": size}, fleet=fleet))
            for size in sizes]
    alone = fit_many([m("off") for m in make], [air] * 4)
    fused = fit_many([m("on") for m in make], [air] * 4)
    assert fleets == [2, 2]
    for a, f in zip(alone, fused, strict=True):
        assert a.result.best_epoch == f.result.best_epoch
        assert f.result.best_val_loss == pytest.approx(a.result.best_val_loss, rel=1e-4)


def test_only_plain_single_process_lstm_jobs_fuse(tmp_path, air: Panel):
    model = RecurrentForecaster(configure(**FAST, fleet="on"))
    panel = model._begin_fit(air, None, None)
    job = next(model._fit(panel, RunContext()))[0]
    assert fusion_key(job) is not None
    assert fusion_key(TrainingJob(job.net, job.train, job.val, job.config, RunContext(checkpoint_dir=tmp_path))) is None
    off = configure(**FAST, fleet="off").train
    assert fusion_key(TrainingJob(job.net, job.train, job.val, off, job.context)) is None
    gru = torch.nn.GRU(1, 4)  # not an LSTMNet: trained alone
    assert fusion_key(TrainingJob(gru, job.train, job.val, job.config, job.context)) is None
    assert train_many([]) == []


def test_tuning_trials_trained_as_a_fleet_score_as_trials_fitted_alone(air: Panel, fleets: list[int]):
    import optuna

    from hpcast.tune import Objective, search_space, tuning_span

    base = configure(**FAST, fleet="on")
    span, _ = tuning_span(air, base)
    objective = Objective(span, base, search_space("lstm", "MS", {"hidden": [4], "num_layers": [1], "dropout": [0.0],
                                                                  "window": [12], "batch_size": [16]}))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trials = [study.ask() for _ in range(3)]  # one shape, three learning rates: one fleet
    values = objective.run_batch(trials)
    assert fleets == [3]
    alone = [Objective(span, configure(**FAST, fleet="off"), objective.space)(optuna.trial.FixedTrial(t.params))
             for t in trials]
    np.testing.assert_allclose(values, alone, rtol=1e-4)
    assert len({t.params["lr"] for t in trials}) == 3
