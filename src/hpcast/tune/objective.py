"""What a trial computes, and on which data.

The tuning span is the panel's data *before* the folds `hpcast.evaluate.walkforward.backtest` reports by
default for the same config (its ``test_size`` over the panel's date axis): every date strictly before the
first fold origin. A trial builds its `RunConfig` with `hpcast.config.configure` (the base config plus the
trial's parameters), fits the model's estimator on that span, and returns the fitted model's best
validation loss, i.e. the loss on the span's last windows (each series' last ``val_fraction``), the
estimator's own early-stopping split. That is simple, needs no extra fits, and gives a value every epoch,
which is what a pruner needs: after each epoch the best validation loss so far is reported to the trial,
and a trial the pruner stops raises `optuna.TrialPruned` out of the training loop.

When the space searches the output head (``distribution``), losses differ between trials (MSE, negative
log-likelihood, pinball), so a trial returns its validation CRPS instead (`TrainResult.val_crps`, the score
every head shares) and reports nothing per epoch: the pruner never compares losses of different kinds.

Example:
    >>> span, first_origin = tuning_span(panel, RunConfig())  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from hpcast.config import RunConfig, configure, to_dict
from hpcast.data.panel import Panel
from hpcast.evaluate.walkforward import fold_dates
from hpcast.tune.space import Param, to_settings

__all__ = ["Objective", "TrialProgress", "tuning_span"]


def tuning_span(panel: Panel, config: RunConfig) -> tuple[Panel, pd.Timestamp]:
    """The rows dated strictly before the first default backtest fold origin, and that origin."""
    first = pd.Timestamp(fold_dates(panel, config)[0])
    span = panel.dates < np.datetime64(first, "ns")
    if not span.any():
        raise ValueError(f"no data before the backtest folds (first origin {first.date()}); "
                         "use a longer series or a smaller --horizon")
    return panel.until(panel.dates[span].max()), first


class TrialProgress:
    """A `RunContext` progress hook that reports each epoch's best validation loss so far to an Optuna
    trial and stops the training when it should: by raising `optuna.TrialPruned` (which the trainer lets
    through) for a trial trained alone, or `hpcast.train.context.StopTraining` (which ends only this run,
    and leaves ``pruned`` set) for one trained beside others (``alone=False``)."""

    def __init__(self, trial: Any, alone: bool = True, prune: bool = True) -> None:
        self.trial, self.alone, self.prune, self.pruned = trial, alone, prune, False

    def start(self, total: int, done: int = 0) -> None:
        pass

    def advance(self, record: Any, best_val_loss: float) -> None:
        import optuna

        from hpcast.train.context import StopTraining

        if not self.prune:
            return
        self.trial.report(best_val_loss, record.epoch)
        if self.trial.should_prune():
            message = f"pruned at epoch {record.epoch} (validation loss {best_val_loss:.4g})"
            if self.alone:
                raise optuna.TrialPruned(message)
            self.pruned = True
            raise StopTraining(message)

    def finish(self) -> None:
        pass


@dataclasses.dataclass(frozen=True)
class Objective:
    """``objective(trial)``: fit the base config with the trial's parameters on ``span``; return its best
    validation loss (its validation CRPS where the head is searched: `by_crps`). The trial's whole config is
    kept as the user attribute ``config``. With a searched ``covariates`` parameter the trial fits on
    ``spans.span(<its covariate set>)`` instead of ``span``. `run_batch` fits several trials together (their
    networks train in one fused run on a GPU)."""

    span: Panel
    base: RunConfig
    space: dict[str, Param]
    spans: Any = None  # hpcast.tune.spans.Spans, when the space has a ``covariates`` parameter

    @property
    def by_crps(self) -> bool:
        """Whether trials are scored by validation CRPS (the head is searched) rather than validation loss."""
        return "distribution" in self.space

    @property
    def score(self) -> str:
        """What ranks the trials, in words (the report's and the plot's label)."""
        return "validation CRPS" if self.by_crps else "validation loss"

    def value(self, result: Any) -> float:
        """A fitted trial's objective: its validation CRPS or its best validation loss (`by_crps`)."""
        return float(result.val_crps if self.by_crps else result.best_val_loss)

    def config_for(self, values: dict[str, Any]) -> RunConfig:
        return configure(self.base, **to_settings({k: v for k, v in values.items() if k != "covariates"}))

    def _prepare(self, trial: Any) -> tuple[Any, Panel]:
        """The trial's parameters drawn, its config recorded, and its estimator (a single model, whatever
        --ensemble says) and span."""
        from hpcast.forecast.table import model_spec

        values = {name: param.suggest(trial) for name, param in self.space.items()}
        span = self.spans.span(values["covariates"]) if "covariates" in values else self.span
        config = self.config_for(values)
        trial.set_user_attr("config", to_dict(config.resolved(span.freq)))
        return model_spec(config.kind).estimator_class()(config), span

    def __call__(self, trial: Any) -> float:
        from hpcast.train.context import RunContext

        estimator, span = self._prepare(trial)
        estimator.fit(span, context=RunContext(progress=TrialProgress(trial, prune=not self.by_crps)))
        trial.set_user_attr("best_epoch", estimator.result.best_epoch)
        return self.value(estimator.result)

    def run_batch(self, trials: list[Any]) -> list[float | None]:
        """Fit ``trials`` together through `fit_many` (same-shape networks fused on a GPU, one after another
        elsewhere); each one's best validation loss, or None where the pruner stopped it."""
        from hpcast.forecast.base import fit_many
        from hpcast.train.context import RunContext

        prepared = [self._prepare(trial) for trial in trials]
        hooks = [TrialProgress(trial, alone=False, prune=not self.by_crps) for trial in trials]
        fit_many([estimator for estimator, _ in prepared], [span for _, span in prepared],
                 contexts=[RunContext(progress=hook) for hook in hooks])
        values: list[float | None] = []
        for trial, (estimator, _), hook in zip(trials, prepared, hooks, strict=True):
            trial.set_user_attr("best_epoch", estimator.result.best_epoch)
            values.append(None if hook.pruned else self.value(estimator.result))
        return values
