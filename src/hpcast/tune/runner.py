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

    def run(self, trials: int | None, timeout: float | None, callbacks: tuple[Callable[..., None], ...] = ()) -> Any:
        """Run up to ``trials`` trials (for at most ``timeout`` seconds) in this process; return the study."""
        pruner = make_pruner(self.pruner, self.objective.base.train.epochs)
        study = open_study(self.study, open_storage(self.storage), pruner, self.seed)
        logger = [MlflowLogger(self.study)] if self.mlflow else []
        study.optimize(self.objective, n_trials=trials, timeout=timeout, catch=(ValueError,),
                       callbacks=[*logger, *callbacks])
        return study


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
