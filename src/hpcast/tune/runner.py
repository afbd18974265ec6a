"""Running a study: trials in this process, or in K spawned processes that share the study through its
storage; each finished trial logged to MLflow by the process that ran it (experiment ``tune-<study>``)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from hpcast.tune.objective import Objective
from hpcast.tune.study import make_pruner, open_storage, open_study

__all__ = ["MlflowLogger", "StudyJob", "count_states", "optimize"]


@dataclasses.dataclass(frozen=True)
class StudyJob:
    """Everything a trial process needs: picklable, so a spawned process can run it."""

    study: str
    storage: str
    pruner: str
    objective: Objective
    seed: int | None = None
    mlflow: bool = True
    batch: int = 1  # trials asked at a time and trained together (`Objective.run_batch`)

    def run(self, trials: int | None, timeout: float | None, callbacks: tuple[Callable[..., None], ...] = ()) -> Any:
        """Run up to ``trials`` trials (for at most ``timeout`` seconds) in this process; return the study."""
        pruner = make_pruner(self.pruner, self.objective.base.train.epochs)
        study = open_study(self.study, open_storage(self.storage), pruner, self.seed)
        logger = [MlflowLogger(self.study)] if self.mlflow else []
        if self.batch == 1:
            study.optimize(self.objective, n_trials=trials, timeout=timeout, catch=(ValueError,),
                           callbacks=[*logger, *callbacks])
        else:
            self._run_batches(study, trials, timeout, (*logger, *callbacks))
        return study

    def _run_batches(self, study: Any, trials: int | None, timeout: float | None,
                     callbacks: tuple[Callable[..., None], ...]) -> None:
        """Optuna's ask-and-tell, ``batch`` trials at a time; like ``study.optimize``, a ValueError fails the
        trials it hit and the search goes on, and ``timeout`` stops new batches from starting."""
        import logging

        from optuna.trial import TrialState

        started, done = time.monotonic(), 0
        while (trials is None or done < trials) and (timeout is None or time.monotonic() - started < timeout):
            asked = [study.ask() for _ in range(self.batch if trials is None else min(self.batch, trials - done))]
            try:
                values: list[float | None] = self.objective.run_batch(asked)
                states = [TrialState.PRUNED if value is None else TrialState.COMPLETE for value in values]
            except ValueError as error:
                logging.getLogger("optuna").warning(f"trials {[t.number for t in asked]} failed: {error}")
                values, states = [None] * len(asked), [TrialState.FAIL] * len(asked)
            for trial, value, state in zip(asked, values, states, strict=True):
                frozen = study.tell(trial, value if state == TrialState.COMPLETE else None, state=state)
                for callback in callbacks:
                    callback(study, frozen)
            done += len(asked)


def _worker(job: StudyJob, trials: int | None, timeout: float | None) -> None:
    import torch

    torch.set_num_threads(1)  # K processes on one machine: one thread each
    job.run(trials, timeout)


def optimize(job: StudyJob, trials: int | None, timeout: float | None, jobs: int = 1,
             on_progress: Callable[[Any], None] | None = None) -> Any:
    """Run ``trials`` more trials of ``job``'s study: here (``jobs=1``), or split over ``jobs`` spawned
    processes that all optimise the same study through its storage; ``on_progress(study)`` after each trial
    (here) or every second (while the processes run). Returns the study, reloaded from the storage."""
    if jobs <= 1:
        callbacks = (lambda study, trial: on_progress(study),) if on_progress else ()
        return job.run(trials, timeout, callbacks)
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    shares = [None] * jobs if trials is None else [trials // jobs + (k < trials % jobs) for k in range(jobs)]
    processes = [context.Process(target=_worker, args=(job, share, timeout)) for share in shares if share != 0]
    for process in processes:
        process.start()
    study = open_study(job.study, open_storage(job.storage), make_pruner(job.pruner), job.seed)
    while any(process.is_alive() for process in processes):
        time.sleep(1.0)
        if on_progress:
            on_progress(study)
    for process in processes:
        process.join()
    failed = [process.exitcode for process in processes if process.exitcode != 0]
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(processes)} trial processes failed (exit codes {failed})")
    return study


def count_states(study: Any) -> dict[str, int]:
    """Trials per state: complete, pruned, failed (and running, for trials still in progress)."""
    counts = {"complete": 0, "pruned": 0, "failed": 0, "running": 0}
    for trial in study.get_trials(deepcopy=False):
        name = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed"}.get(trial.state.name, "running")
        counts[name] += 1
    return counts


class MlflowLogger:
    """An Optuna callback: each finished trial becomes one MLflow run in experiment ``tune-<study>``."""

    def __init__(self, study: str) -> None:
        self.experiment = f"tune-{study}"
        self._registry: Any = None

    def __call__(self, study: Any, trial: Any) -> None:
        from hpcast.registry import Registry

        if self._registry is None:
            self._registry = Registry()
        steps = {"val_loss": [trial.intermediate_values[k] for k in sorted(trial.intermediate_values)]}
        metrics = {"value": trial.value} if trial.value is not None else {}
        self._registry.log_run(self.experiment, f"trial-{trial.number}",
                               params={"trial": trial.params, "config": trial.user_attrs.get("config", {})},
                               metrics=metrics, steps=steps,
                               tags={"optuna.study": study.study_name, "optuna.trial": str(trial.number),
                                     "optuna.state": trial.state.name})
