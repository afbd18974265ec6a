"""Hyperparameter search on Optuna: a declarative space per model (`space`), Optuna storages shared by
processes and machines (`study`), the panel of each searched covariate set (`spans`), trials fitted on the
data before the backtest folds and pruned epoch by epoch (`objective`), run here or in K processes
(`runner`), and the run folder they leave (`outputs`, `job`).

Heavy imports (optuna, torch, mlflow) happen inside functions; importing this package loads pandas only.
"""

from hpcast.errors import StorageError
from hpcast.tune.job import TuneResult, tune_job
from hpcast.tune.objective import Objective, TrialProgress, tuning_span
from hpcast.tune.space import COVARIATE_SETS, Param, load_space, search_space
from hpcast.tune.spans import Spans
from hpcast.tune.study import default_storage, open_storage, open_study

__all__ = ["COVARIATE_SETS", "Objective", "Param", "Spans", "StorageError", "TrialProgress", "TuneResult",
           "default_storage", "load_space", "open_storage", "open_study", "search_space", "tune_job", "tuning_span"]
