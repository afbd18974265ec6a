"""Where a study lives and how it is opened: Optuna's own storages, so several processes and machines
that name one study and one storage join it (Optuna does the coordination).

Storage URLs: ``sqlite:///path.db`` (the default, ``<data>/optuna.db`` with ``<data>`` the registry's
`hpcast.registry.data_dir`), any SQLAlchemy database URL (``postgresql://user:pass@host/db``), or a journal
file on a shared disk (a path ending in ``.journal``, or ``journal://path``). A URL is only ever shown
through `hpcast._uris.redact`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hpcast._uris import redact
from hpcast.errors import StorageError

__all__ = ["default_storage", "make_pruner", "open_storage", "open_study"]

PRUNERS = ("median", "halving", "none")


def default_storage() -> str:
    """SQLite under the data folder (``HPCAST_DATA`` or ``./hpcast-data``), beside the MLflow database."""
    from hpcast.registry.registry import data_dir

    return f"sqlite:///{data_dir() / 'optuna.db'}"


def _journal_path(url: str) -> str | None:
    if url.startswith("journal://"):
        return url.removeprefix("journal://")
    return url if url.endswith(".journal") and "://" not in url else None


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``; one `StorageError` line (password hidden) when it cannot be opened."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if (path := _journal_path(url)) is not None:
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            Path(path).parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(path))
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url)
    except Exception as error:  # any driver's failure: say which storage and why, in one line
        reason = " ".join(str(error).split()) or type(error).__name__
        password = _password(url)
        if password:
            reason = reason.replace(password, "***")
        raise StorageError(f"storage {redact(url)} cannot be opened: {redact(reason)[:300]}") from None


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def make_pruner(name: str, epochs: int | None = None) -> Any:
    """``median`` (stop a trial whose loss is worse than the median of earlier trials at the same epoch,
    judged only after a quarter of ``epochs``: the first epochs of a one-cycle schedule say little),
    ``halving`` (successive halving: keep the best share at each rung), or ``none``."""
    import optuna

    if name not in PRUNERS:
        raise ValueError(f"pruner ({name!r}) must be one of {list(PRUNERS)}")
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=max(1, (epochs or 0) // 4))
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def open_study(name: str, storage: Any, pruner: Any, seed: int | None = None) -> Any:
    """Study ``name`` in ``storage``, created if new and joined if not (TPE sampler, minimising)."""
    import optuna

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=4)
    return optuna.create_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner,
                               direction="minimize", load_if_exists=True)
