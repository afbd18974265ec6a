"""`hpcast tune`: the space and its errors, the span before the folds, pruning, best.toml, resume, two
processes on one storage, and storage errors that keep passwords out."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hpcast.cli import cli
from hpcast.config import ConfigError, RunConfig, TrainConfig, load_toml
from hpcast.data import load_bundled
from hpcast.data.panel import Panel
from hpcast.evaluate.walkforward import backtest
from hpcast.inputs import load_panel
from hpcast.tune import StorageError, open_storage, open_study, search_space, tuning_span
from hpcast.tune.objective import Objective
from hpcast.tune.space import SPACES, load_space
from hpcast.tune.spans import Spans
from hpcast.tune.study import make_pruner

FAST = ["--epochs", "2", "--layers", "4", "--no-mlflow", "--quiet"]


@pytest.fixture
def air() -> Panel:
    return Panel.from_dataset(load_bundled("air_passengers"))


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HPCAST_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def test_the_cli_offers_every_model_with_a_space():
    from hpcast.cli.tune import _TUNABLE

    assert set(_TUNABLE) == set(SPACES)


def test_space_narrowing(tmp_path: Path):
    path = tmp_path / "space.toml"
    path.write_text("[space]\nlr = {low = 1e-3, high = 5e-3}\nhidden = [8, 16]\nnum_layers = 1\n")
    space = search_space("lstm", "MS", load_space(path))
    assert (space["lr"].low, space["lr"].high, space["lr"].kind) == (1e-3, 5e-3, "log")
    assert space["hidden"].choices == (8, 16) and space["num_layers"].choices == (1,)
    assert (space["window"].low, space["window"].high) == (12, 24)  # from the monthly default window


@pytest.mark.parametrize(("text", "message"), [
    ("[space]\nwidth = [1]\n", "unknown search parameter(s) width for lstm; known: num_layers, hidden, dropout"),
    ("[space]\nlr = {low = 0.1, high = 0.01}\n", "space.lr: low (0.1) must be <= high (0.01)"),
    ("[space]\nhidden = []\n", "space.hidden: no choices left (an empty list)"),
    ("[space]\nlr = {low = 0.0}\n", "space.lr: low (0) must be > 0 on a log scale"),
    ("[space]\nhidden = {low = 8}\n", "space.hidden ({'low': 8}): choose among [16, 32, 64, 128]"),
    ("[space]\n", "the [space] table is empty"),
    ("lr = 1\n", "a search space file holds one [space] table, got lr"),
])
def test_space_errors_name_the_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        search_space("lstm", "MS", load_space(path))
    assert message in str(error.value)


def test_a_model_without_a_space_is_refused():
    with pytest.raises(ConfigError, match="model \\('naive'\\) has no search space; tune one of lstm, gru"):
        search_space("naive", "MS")


def test_the_tuning_span_ends_before_the_first_backtest_fold(air: Panel):
    config = RunConfig(horizon=12)
    span, first_origin = tuning_span(air, config)
    result = backtest(air, config=config, models=("naive",))
    assert str(first_origin.date()) == result.origins[0] == "1958-12-01"
    assert span.dates.max() < np.datetime64(first_origin) and str(span.dates.max())[:10] == "1958-11-01"
    assert str(result.predictions["date"].min().date()) == "1959-01-01"  # the first scored date, after both


def test_a_bad_trial_is_pruned():
    """Two good trials start the median pruner; a third reporting a worse loss is stopped at its first epoch."""
    import optuna

    study = optuna.create_study(pruner=make_pruner("median"))
    for value in (1.0, 1.1):
        study.optimize(lambda trial, v=value: _report(trial, [v] * 3), n_trials=1)
    study.optimize(lambda trial: _report(trial, [9.0, 9.0, 9.0]), n_trials=1)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "PRUNED"]
    assert study.trials[2].intermediate_values == {1: 9.0}  # stopped after epoch 1 of 3


def _report(trial, values):
    from hpcast.tune.objective import TrialProgress

    progress = TrialProgress(trial)
    for epoch, value in enumerate(values, start=1):
        progress.advance(type("Record", (), {"epoch": epoch})(), value)
    return values[-1]


def test_the_objective_prunes_through_the_training_loop(air: Panel):
    """A real fit: with a pruner that always prunes, the trainer lets TrialPruned through after epoch 1."""
    import optuna

    class Always(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    base = RunConfig(train=TrainConfig(epochs=3, seed=1))
    span, _ = tuning_span(air, base)
    study = optuna.create_study(pruner=Always())
    study.optimize(Objective(span, base, search_space("lstm", "MS", {"hidden": [4]})), n_trials=2)
    assert [t.state.name for t in study.trials] == ["PRUNED", "PRUNED"]
    assert all(len(t.intermediate_values) == 1 for t in study.trials)


def test_best_toml_loads_and_train_reproduces_the_best_trial(tmp_path: Path, data_dir: Path):
    """The covariate set is searched too (air passengers has no volume: that set is left out); the report's
    command line reproduces the best trial, covariates included."""
    out = tmp_path / "tune"
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--trials", "3", "--seed", "5",
                                      "--pruner", "none", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert "covariates: searched among none, calendar, ma_ratio:50,calendar" in result.output
    assert "3 trials: 3 complete, 0 pruned (stopped early), 0 failed" in result.output
    assert "tuning on 1949-01-01 .. 1958-11-01; held out: the backtest folds after 1958-12-01" in result.output
    assert "held-out folds (2, from 1958-12-01): MASE lstm" in result.output and "naive" in result.output
    best = load_toml(out / "best.toml")
    assert best.train.seed == 5 and best.train.epochs == 2
    trials = open_study("air_passengers-lstm", open_storage(f"sqlite:///{data_dir / 'optuna.db'}"),
                        make_pruner("none"))
    chosen = trials.best_params["covariates"]
    assert {t.params["covariates"] for t in trials.trials} <= {"", "calendar", "ma_ratio:50,calendar"}
    assert "covariates" in (out / "trials.csv").read_text().splitlines()[0].split(",")
    report = (out / "report.md").read_text()
    assert f"Covariates: best set {f'`{chosen}`' if chosen else 'none'}, searched among none, `calendar`, " \
           "`ma_ratio:50,calendar`." in report
    command = f"hpcast train --config {out / 'best.toml'} --dataset air_passengers" + \
        (f" --covariates {chosen}" if chosen else "")
    assert f"train it: {command}" in result.output and command in report
    reproduce = report.split("Reproduce the best trial: `")[1].split("`")[0]
    trained = CliRunner().invoke(cli, [*shlex.split(reproduce)[1:], "--seed", "5", "--out", str(tmp_path / "train"),
                                       "--quiet"])
    assert trained.exit_code == 0, trained.output
    loss = json.loads((tmp_path / "train" / "metrics.json").read_text())["training"]["best_val_loss"]
    assert loss == pytest.approx(trials.best_value, rel=1e-6, abs=1e-9)
    assert {"best.toml", "trials.csv", "trials.png", "report.md", "span.csv"} <= {p.name for p in out.iterdir()}


def test_the_covariate_sets_narrowed_from_toml(tmp_path: Path):
    spans = Spans(_air_panel, RunConfig())
    path = tmp_path / "space.toml"
    path.write_text('[space]\ncovariates = ["", "calendar"]\nhidden = [4]\n')
    narrowed = load_space(path)
    searched = spans.searched(narrowed.pop("covariates"))
    space = search_space("lstm", "MS", narrowed, covariates=searched)
    assert space["covariates"].choices == ("", "calendar") and space["hidden"].choices == (4,)
    assert spans.searched() == ("", "calendar", "ma_ratio:50,calendar")  # no volume column: that set is left out
    assert spans.span("calendar").dates.max() == tuning_span(spans.panel("calendar"), RunConfig())[0].dates.max()


def _air_panel(covariates: str) -> Panel:
    return load_panel(dataset="air_passengers", covariates=covariates)


def test_an_unknown_covariate_in_the_space_fails_in_one_line(tmp_path: Path):
    path = tmp_path / "space.toml"
    path.write_text('[space]\ncovariates = ["", "colour"]\n')
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--space", str(path),
                                      "--out", str(tmp_path / "bad"), *FAST])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: space.covariates ('colour'): covariate ('colour') must be one of "
                                    "volume, ret:NAME, ma_ratio:N, macro:cpi_yoy, macro:rate_3m, calendar")
    assert not (tmp_path / "bad").exists()
    path.write_text('[space]\ncovariates = ["calendar"]\n')
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--space", str(path), "--covariates",
                                      "calendar", "--out", str(tmp_path / "bad"), *FAST])
    assert result.exit_code == 1
    assert "Error: space.covariates: --covariates ('calendar') fixes the covariate set" in result.output


def test_fixed_covariates_are_not_searched_and_an_ensemble_is_backtested(tmp_path: Path, data_dir: Path):
    out = tmp_path / "tune"
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--covariates", "calendar", "--trials",
                                      "2", "--ensemble", "2", "--study", "fixed", "--out", str(out), *FAST])
    assert result.exit_code == 0, result.output
    assert "covariates: calendar, fixed by --covariates (not searched)" in result.output
    trials = open_study("fixed", open_storage(f"sqlite:///{data_dir / 'optuna.db'}"), make_pruner("none")).trials
    assert all("covariates" not in t.params for t in trials)
    assert "MASE lstm " in result.output and "lstm-ensemble-2 " in result.output and "naive " in result.output
    assert load_toml(out / "best.toml").train.ensemble == 1  # the trials are single models
    report = (out / "report.md").read_text()
    assert "Covariates: `calendar`, fixed by --covariates (not searched)." in report
    assert "| lstm-ensemble-2 | " in report and "| lstm | " in report and "| naive | " in report
    assert f"train it: hpcast train --config {out / 'best.toml'} --dataset air_passengers --covariates calendar" \
        in result.output


def test_a_second_run_resumes_the_study(tmp_path: Path):
    args = ["tune", "--dataset", "air_passengers", "--trials", "2", "--study", "again", *FAST]
    for run in (1, 2):
        result = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / f"run{run}")])
        assert result.exit_code == 0, result.output
    assert "study again in sqlite:///" in result.output and ": 2 trials so far" in result.output
    assert "4 trials:" in result.output and "(2 added by this run)" in result.output


def test_two_processes_join_one_study_on_a_journal_file(tmp_path: Path):
    storage = str(tmp_path / "shared.journal")
    args = [sys.executable, "-m", "hpcast", "tune", "--dataset", "air_passengers", "--trials", "2", "--study",
            "shared", "--storage", storage, *FAST]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen([*args, "--out", str(tmp_path / f"w{k}")], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for k in range(2)]
    outputs = [worker.communicate(timeout=240)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    trials = open_study("shared", open_storage(storage), make_pruner("none")).trials
    assert len(trials) == 4 and sorted(t.number for t in trials) == [0, 1, 2, 3]


def test_jobs_run_trial_processes_on_one_study(tmp_path: Path):
    storage = str(tmp_path / "jobs.journal")
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--trials", "2", "--jobs", "2",
                                      "--storage", storage, "--study", "jobs", "--out", str(tmp_path / "j"), *FAST])
    assert result.exit_code == 0, result.output
    assert len(open_study("jobs", open_storage(storage), make_pruner("none")).trials) == 2


def test_a_bad_storage_fails_in_one_line_without_its_password(tmp_path: Path):
    url = "postgresql://ana:s3cret@127.0.0.1:1/optuna"
    with pytest.raises(StorageError) as error:
        open_storage(url)
    assert str(error.value).startswith("storage postgresql://ana:***@127.0.0.1:1/optuna cannot be opened: ")
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--storage", url,
                                      "--out", str(tmp_path / "bad"), *FAST])
    assert result.exit_code == 1
    assert "s3cret" not in result.output and result.output.count("\n") == 1, result.output
    assert result.output.startswith("Error: storage postgresql://ana:***@")
    assert not (tmp_path / "bad").exists()


def test_every_trial_is_logged_to_mlflow_in_the_study_experiment(tmp_path: Path):
    from hpcast.registry import Registry

    args = ["tune", "--dataset", "air_passengers", "--trials", "2", "--study", "logged", "--out", str(tmp_path / "m")]
    result = CliRunner().invoke(cli, [*args, *[f for f in FAST if f != "--no-mlflow"]])
    assert result.exit_code == 0, result.output
    registry = Registry()
    runs = registry.client.search_runs([registry.experiment("tune-logged")])
    assert sorted(run.data.tags["optuna.trial"] for run in runs) == ["0", "1"]
    assert all("value" in run.data.metrics for run in runs if run.data.tags["optuna.state"] == "COMPLETE")


def test_a_batch_of_trials_scores_as_each_trial_fitted_alone(air: Panel):
    """`Objective.run_batch` fits the trials together (fit_many); on a CPU that is one after another, so each
    value is exactly the value of the same parameters fitted alone."""
    import optuna

    base = RunConfig(train=TrainConfig(epochs=2, seed=3))
    span, _ = tuning_span(air, base)
    objective = Objective(span, base, search_space("lstm", "MS", {"hidden": [4, 6]}))
    study = optuna.create_study(pruner=make_pruner("none"), sampler=optuna.samplers.RandomSampler(seed=0))
    trials = [study.ask() for _ in range(3)]
    values = objective.run_batch(trials)
    for trial, value in zip(trials, values, strict=True):
        alone = objective(optuna.trial.FixedTrial(trial.params))
        assert value == alone and value is not None


def test_batched_trials_are_pruned_one_by_one(tmp_path: Path):
    """A pruner that always prunes stops every trial of a batch after its first epoch (StopTraining ends that
    trial's run only, not the batch's); a batched study of 3 trials runs batches of 2 and 1."""
    import optuna

    from hpcast.tune.runner import StudyJob

    class Always(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return True

    base = RunConfig(train=TrainConfig(epochs=3, seed=1))
    span, _ = tuning_span(Panel.from_dataset(load_bundled("air_passengers")), base)
    objective = Objective(span, base, search_space("lstm", "MS", {"hidden": [4]}))
    pruning = optuna.create_study(pruner=Always())
    trials = [pruning.ask() for _ in range(2)]
    assert objective.run_batch(trials) == [None, None]
    for trial in trials:
        pruning.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert [len(t.intermediate_values) for t in pruning.trials] == [1, 1]
    storage = f"sqlite:///{tmp_path / 'batch.db'}"
    study = StudyJob("batch", storage, "none", objective, seed=0, mlflow=False, batch=2).run(3, None)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3


def test_the_cli_asks_trials_in_batches(tmp_path: Path):
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--trials", "3", "--batch", "2",
                                      "--pruner", "none", "--out", str(tmp_path / "b"), *FAST])
    assert result.exit_code == 0, result.output
    assert "3 trials: 3 complete, 0 pruned (stopped early), 0 failed" in result.output


def test_a_point_heads_validation_crps_is_its_validation_mae(air: Panel):
    """The score that ranks heads, checked where it has a second definition: a point forecast's CRPS is its
    absolute error, so a network trained and validated by MAE reports the same number twice."""
    from hpcast.config import configure
    from hpcast.forecast.recurrent import RecurrentForecaster

    fitted = RecurrentForecaster(configure(epochs=2, layers=(4,), loss="mae", seed=2)).fit(air)
    assert fitted.result.val_crps == pytest.approx(fitted.result.best_val_loss, rel=1e-5)


def test_searching_the_head_ranks_trials_by_validation_crps_without_pruning(air: Panel, tmp_path: Path):
    """The median pruner would compare an MSE with a negative log-likelihood: with the head searched, no trial
    reports per epoch, and each one's value is its fitted model's validation CRPS."""
    import optuna

    base = RunConfig(train=TrainConfig(epochs=2, seed=1))
    span, _ = tuning_span(air, base)
    space = search_space("lstm", "MS", {"distribution": ["point", "student-t"], "hidden": [4], "num_layers": 1})
    objective = Objective(span, base, space)
    assert objective.by_crps
    study = optuna.create_study(pruner=make_pruner("median"), sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=3)
    assert all(t.state.name == "COMPLETE" and not t.intermediate_values for t in study.trials)
    trial = study.trials[0]
    config = objective.config_for(trial.params)
    assert config.model.distribution == trial.params["distribution"]
    from hpcast.forecast.recurrent import RecurrentForecaster

    refit = RecurrentForecaster(config).fit(span)
    assert trial.value == pytest.approx(refit.result.val_crps, rel=1e-6)
    result = CliRunner().invoke(cli, ["tune", "--dataset", "air_passengers", "--trials", "2", "--space",
                                      str(_space_file(tmp_path)), "--out", str(tmp_path / "t"), *FAST])
    assert result.exit_code == 0, result.output
    assert "validation CRPS" in result.output and "CRPS lstm" in result.output
    assert "distribution" in (tmp_path / "t" / "trials.csv").read_text().splitlines()[0].split(",")
    assert "| model | held-out MASE | held-out CRPS |" in (tmp_path / "t" / "report.md").read_text()


def _space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.toml"
    path.write_text('[space]\ndistribution = ["point", "normal"]\ncovariates = [""]\n')
    return path
