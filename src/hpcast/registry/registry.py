"""The model registry on MLflow: training runs logged, models registered per asset, served by alias.

Where it lives: ``HPCAST_TRACKING_URI`` (an MLflow server, ``http://...``) if set, else SQLite at
``<data>/mlflow.db`` with artifacts in ``<data>/mlartifacts`` (``<data>`` is ``HPCAST_DATA`` or
``./hpcast-data``). The artifact location is always set explicitly, so nothing lands in ``./mlruns``.

What is stored: a model version is the run's ``model/`` folder, i.e. ``weights.safetensors`` plus
``manifest.json``; loading by alias downloads those two files and rebuilds the network from them, so no
pickle is ever loaded (``mlflow.pytorch.log_model`` is deliberately not used: it pickles).

Models are named ``hpcast-<key>``; aliases are ``champion`` (what forecasts use) and ``challenger``
(the newest candidate). A key is what ``hpcast train --register KEY`` names:

- **per-asset models** (fitted on one series): the key is the asset, ``hpcast-sp500``;
- **global models** (one network fitted on a panel of several series): registered once, under a key that
  names the group and is none of its symbols (``global-<name>`` by convention, ``hpcast-global-tech``).
  The registered model is tagged ``hpcast.scope = global`` and ``hpcast.symbols = aapl,msft`` (its latest
  version's symbols), and every version carries the ``hpcast.symbols`` it was fitted on. A key keeps its
  scope: a one-series model is never a version of a global key, nor a panel model of a per-asset one.

Resolution (`Registry.resolve`, used by `Registry.load`, the investor page and the retrain pipeline): an
asset is served by its own champion (``hpcast-<asset>@champion``) when it has one, else by the champion of
a global model whose champion version covers it (the newest such version when several do). The per-asset
champion wins where both exist: it was chosen on that asset's folds alone, whereas a global model's
recorded skill is pooled over its panel, not measured on this asset. To hand an asset to a global model,
register no per-asset model for it (or delete that model's champion alias in MLflow).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpcast.errors import RegistryError
from hpcast.registry.coverage import ASSET, GLOBAL, SCOPE_TAG, SYMBOLS_TAG, Resolved, for_symbol, symbols_of

__all__ = ["ASSET", "CHALLENGER", "CHAMPION", "GLOBAL", "Registry", "Resolved", "data_dir",
           "for_symbol", "model_name", "tracking_uri"]

CHAMPION, CHALLENGER = "champion", "challenger"
TRAINING_EXPERIMENT = "hpcast-training"


def _not_found(error: Exception) -> bool:
    """MLflow's answer for a model, version or alias that does not exist (and nothing else).

    A missing model or version is ``RESOURCE_DOES_NOT_EXIST``; a missing alias comes as
    ``INVALID_PARAMETER_VALUE`` "Registered model alias ... not found", a code that a bad URI also uses.
    """
    code = getattr(error, "error_code", None)
    return code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "not found" in str(error))


def data_dir() -> Path:
    """``HPCAST_DATA`` or ``./hpcast-data``: the registry database and artifacts live here."""
    return Path(os.environ.get("HPCAST_DATA", "hpcast-data")).resolve()


def tracking_uri() -> str:
    """``HPCAST_TRACKING_URI`` if set, else SQLite under `data_dir`."""
    return os.environ.get("HPCAST_TRACKING_URI") or f"sqlite:///{data_dir() / 'mlflow.db'}"


def model_name(asset: str) -> str:
    """The MLflow name of a key's registered model: ``hpcast-<key>``."""
    return f"hpcast-{asset}"


@dataclass(frozen=True)
class Version:
    """One registered model version as the CLI shows it."""

    asset: str
    version: int
    aliases: tuple[str, ...]
    run_id: str
    created: str
    metrics: dict[str, float]
    tags: dict[str, str]

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols a global model's version was fitted on (empty for per-asset versions)."""
        return symbols_of(self.tags.get(SYMBOLS_TAG))


def _flatten(prefix: str, value: Any, out: dict[str, str]) -> dict[str, str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, out)
    else:
        out[prefix] = str(value)[:500]
    return out


class Registry:
    """Thin wrapper over one MLflow tracking/registry URI (see the module docstring for defaults).

    Every method's ``asset`` is a key: an asset's name, or a global model's (module docstring).
    """

    def __init__(self, uri: str | None = None) -> None:
        for noisy in ("alembic", "mlflow.store.db.utils", "mlflow.tracking", "mlflow.store"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient

        self.uri = uri or tracking_uri()
        if self.uri.startswith("sqlite:///"):
            Path(self.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        except MlflowException as error:  # an unsupported scheme fails here, before any request
            raise self._unanswered(error) from error

    # ---- tracking -------------------------------------------------------------------------------------------
    def experiment(self, name: str) -> str:
        """The id of experiment ``name``, created with an explicit artifact location if new."""
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = None
        if self.uri.startswith("sqlite:"):  # a server has its own artifact root; a local DB gets ours
            location = (Path(self.uri.removeprefix("sqlite:///")).parent / "mlartifacts" / name).as_uri()
        return self.client.create_experiment(name, artifact_location=location)

    def log_run(self, experiment: str, run_name: str, *, params: dict[str, Any] | None = None,
                metrics: dict[str, float] | None = None, steps: dict[str, list[float]] | None = None,
                tags: dict[str, str] | None = None, artifacts: dict[str, Path] | None = None) -> str:
        """One finished MLflow run: params, final metrics, per-step series, tags, artifact folders."""
        import time

        from mlflow.entities import Metric, Param

        run = self.client.create_run(self.experiment(experiment), run_name=run_name,
                                     tags={k: str(v) for k, v in (tags or {}).items()})
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        flat = _flatten("", params or {}, {})
        metric_rows = [Metric(k, float(v), now, 0) for k, v in (metrics or {}).items() if v is not None]
        for key, series in (steps or {}).items():
            metric_rows += [Metric(key, float(v), now, step) for step, v in enumerate(series)]
        params_rows = [Param(k, v) for k, v in flat.items()]
        for start in range(0, len(params_rows), 100):  # MLflow's per-call limits
            self.client.log_batch(run_id, params=params_rows[start:start + 100])
        for start in range(0, len(metric_rows), 1000):
            self.client.log_batch(run_id, metrics=metric_rows[start:start + 1000])
        for artifact_path, folder in (artifacts or {}).items():
            self.client.log_artifacts(run_id, str(folder), artifact_path=artifact_path)
        self.client.set_terminated(run_id)
        return run_id

    def log_training(self, folder: str | Path, asset: str, *, tags: dict[str, str] | None = None) -> str:
        """Log a training run folder (from `hpcast train`): config, per-epoch losses and timings, the model."""
        import json

        folder = Path(folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        training = json.loads((folder / "metrics.json").read_text())["training"]
        epochs = training["epochs"]
        steps = {key: [e[key] for e in epochs] for key in ("train_loss", "val_loss", "seconds", "data_seconds",
                                                             "compute_seconds", "sync_seconds")}
        steps["epoch_seconds"] = steps.pop("seconds")
        artifacts = {"model": folder / "model"}
        return self.log_run(
            TRAINING_EXPERIMENT, f"{asset}-{folder.name}", params={"config": manifest["config"],
                                                                    "data": manifest["data"]},
            metrics={"best_val_loss": training["best_val_loss"], "best_epoch": training["best_epoch"],
                     "epochs_run": training["epochs_run"], "seconds_per_epoch": training["seconds_per_epoch"]},
            steps=steps, tags={"hpcast.asset": asset, "hpcast.run_folder": str(folder.resolve()), **(tags or {})},
            artifacts=artifacts)

    def _unanswered(self, error: Exception) -> RegistryError:
        """The error for a registry that could not answer at all (unreachable server, bad URI), in one line."""
        from hpcast._uris import redact

        cause = redact(" ".join(str(error).split()))[:400]
        return RegistryError(f"registry at {redact(self.uri)} could not answer ({type(error).__name__}: {cause})")

    # ---- registry -------------------------------------------------------------------------------------------
    def run_symbols(self, run_id: str) -> tuple[str, ...]:
        """The symbols the run's ``model/`` was fitted on, from its manifest (one for a per-asset model)."""
        import json

        from hpcast.forecast.artifacts import upgrade_v1

        with tempfile.TemporaryDirectory(prefix="hpcast-manifest-") as folder:
            local = self.client.download_artifacts(run_id, "model/manifest.json", folder)
            manifest = json.loads(Path(local).read_text())
        if manifest.get("format_version") == 1:
            manifest = upgrade_v1(manifest)
        return tuple(entry["symbol"] for entry in manifest["series"])

    def register(self, run_id: str, asset: str, *, tags: dict[str, str] | None = None) -> int:
        """Register the run's ``model/`` as a new version of ``hpcast-<asset>``; alias it ``challenger``.

        The very first version of a key also becomes ``champion``: there is nothing to compare it with. A
        model fitted on several series is a global model (module docstring): ``asset`` then names the
        group (``global-<name>`` by convention), and the symbols go on the version and the model as tags.

        Raises:
            RegistryError: a global model under one of its own symbols' names, or a model whose scope
                differs from the key's earlier versions (a panel model under a per-asset key or back).

        Example:
            >>> Registry().register(run_id, "global-tech")  # doctest: +SKIP
            1
        """
        from mlflow.exceptions import MlflowException

        name = model_name(asset)
        symbols = self.run_symbols(run_id)
        scope = GLOBAL if len(symbols) > 1 else ASSET
        if scope == GLOBAL and asset in symbols:
            raise RegistryError(f"asset ({asset!r}) names a global model of {len(symbols)} series "
                                f"({', '.join(symbols)}), but {name!r} is {asset}'s per-asset model: register it "
                                f"under a name of its own, e.g. 'global-{'-'.join(symbols[:3])}'")
        try:
            existing = self.client.get_registered_model(name)
            first = False
        except MlflowException as error:
            if not _not_found(error):
                raise self._unanswered(error) from error
            existing, first = None, True
        if existing is not None and existing.tags.get(SCOPE_TAG, ASSET) != scope:
            held = existing.tags.get(SCOPE_TAG, ASSET)
            raise RegistryError(f"asset ({asset!r}) holds {held} models in {name!r}; this run's model is {scope} "
                                f"({len(symbols)} series: {', '.join(symbols)}): register it under another name")
        model_tags = {"hpcast.asset": asset, SCOPE_TAG: scope, SYMBOLS_TAG: ",".join(symbols)}
        if first:
            what = f"global hpcast model over {', '.join(symbols)}" if scope == GLOBAL else f"hpcast model for {asset}"
            self.client.create_registered_model(name, tags=model_tags, description=what)
        elif scope == GLOBAL:
            self.client.set_registered_model_tag(name, SYMBOLS_TAG, model_tags[SYMBOLS_TAG])
        version_tags = {k: str(v) for k, v in (tags or {}).items()}
        if scope == GLOBAL:
            version_tags[SYMBOLS_TAG] = ",".join(symbols)
        source = f"{self.client.get_run(run_id).info.artifact_uri}/model"
        version = int(self.client.create_model_version(name, source, run_id=run_id, tags=version_tags).version)
        self.client.set_registered_model_alias(name, CHALLENGER, str(version))
        if first:
            self.client.set_registered_model_alias(name, CHAMPION, str(version))
        return version

    def promote(self, asset: str, version: int, alias: str = CHAMPION) -> None:
        """Point ``alias`` of ``hpcast-<asset>`` at ``version``."""
        self.version(asset, version)
        self.client.set_registered_model_alias(model_name(asset), alias, str(version))

    def version(self, asset: str, version: int) -> Any:
        """MLflow's entry for one version (``.tags``, ``.run_id``, ``.source``); `RegistryError` if absent."""
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_model_version(model_name(asset), str(version))
        except MlflowException as error:
            if not _not_found(error):
                raise self._unanswered(error) from error
            raise RegistryError(f"version ({version}) of {model_name(asset)!r} does not exist") from error

    def set_tags(self, asset: str, version: int, tags: dict[str, Any]) -> None:
        """Set (or overwrite) ``tags`` on one version of ``hpcast-<asset>``; values are stored as text.

        Example:
            >>> Registry().set_tags("sp500", 3, {"live_mase": 0.91})  # doctest: +SKIP
        """
        self.version(asset, version)
        for key, value in tags.items():
            self.client.set_model_version_tag(model_name(asset), str(version), key, str(value))

    def version_by_alias(self, asset: str, alias: str = CHAMPION) -> int | None:
        """The version ``alias`` points at, or None when the asset or alias has none.

        Raises:
            RegistryError: the registry could not answer (unreachable server, unusable URI): that is not
                "no such model".
        """
        from mlflow.exceptions import MlflowException

        try:
            return int(self.client.get_model_version_by_alias(model_name(asset), alias).version)
        except MlflowException as error:
            if _not_found(error):
                return None
            raise self._unanswered(error) from error

    def download(self, asset: str, *, alias: str | None = CHAMPION, version: int | None = None,
                 dst: str | Path | None = None) -> Path:
        """Copy a version's ``model/`` (weights.safetensors + manifest.json) to a local folder."""
        if version is None:
            version = self.version_by_alias(asset, alias or CHAMPION)
            if version is None:
                raise RegistryError(f"{model_name(asset)!r} has no version with alias {alias!r}")
        entry = self.version(asset, version)
        target = Path(dst or tempfile.mkdtemp(prefix=f"hpcast-{asset}-v{version}-"))
        local = self.client.download_artifacts(entry.run_id, "model", str(target))
        return Path(local)

    def coverage(self, asset: str) -> tuple[str, tuple[str, ...]]:
        """A key's scope (`ASSET` or `GLOBAL`) and the symbols it covers (its own name for per-asset models;
        models registered before scopes existed are per-asset)."""
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(model_name(asset)).tags
        except MlflowException as error:
            if not _not_found(error):
                raise self._unanswered(error) from error
            raise RegistryError(f"asset ({asset!r}) has no registered model {model_name(asset)!r}") from error
        scope = tags.get(SCOPE_TAG, ASSET)
        return scope, symbols_of(tags.get(SYMBOLS_TAG)) if scope == GLOBAL else (asset,)

    def resolve(self, asset: str, alias: str = CHAMPION) -> Resolved | None:
        """The model that serves ``asset`` under ``alias``: its own, else a global model's that covers it
        (the rule and why it is so: module docstring); None when neither exists.

        Raises:
            RegistryError: the registry could not answer (that is not "no model").

        Example:
            >>> Registry().resolve("msft")  # doctest: +SKIP
            Resolved(asset='msft', key='global-tech', version=2, scope='global', symbols=('aapl', 'msft'))
        """
        from mlflow.exceptions import MlflowException

        own = self.version_by_alias(asset, alias)
        if own is not None:
            scope, symbols = self.coverage(asset)
            return Resolved(asset, asset, own, scope, symbols)
        best: tuple[int, Resolved] | None = None
        try:
            for model in self._registered(f"tags.`{SCOPE_TAG}` = '{GLOBAL}'"):
                version = model.aliases.get(alias)
                if version is None:
                    continue
                entry = self.client.get_model_version(model.name, str(version))
                symbols = symbols_of(entry.tags.get(SYMBOLS_TAG))
                if asset in symbols and (best is None or (entry.creation_timestamp or 0) > best[0]):
                    key = model.name.removeprefix("hpcast-")
                    best = (entry.creation_timestamp or 0, Resolved(asset, key, int(version), GLOBAL, symbols))
        except MlflowException as error:
            raise self._unanswered(error) from error
        return None if best is None else best[1]

    def load(self, asset: str, *, alias: str | None = CHAMPION, version: int | None = None,
             history: Any = None) -> Any:
        """The forecaster that serves ``asset`` under ``alias`` (`resolve`: its own champion, else a global
        champion that covers it), or ``hpcast-<asset>``'s ``version``; rebuilt from safetensors + manifest
        (no pickle). A ``pd.Series`` ``history`` of a covered asset is taken as that symbol's series.

        Example:
            >>> Registry().load("msft", history=prices).predict()  # doctest: +SKIP
        """
        from hpcast.forecast.base import load_forecaster

        key = asset
        if version is None:
            found = self.resolve(asset, alias or CHAMPION)
            if found is None:
                raise RegistryError(f"{model_name(asset)!r} has no version with alias {alias!r}, and no global "
                                    f"model's {alias} covers {asset!r}")
            key, version = found.key, found.version
        forecaster = load_forecaster(self.download(key, version=version))
        if history is not None:
            forecaster.history = forecaster.history_panel(for_symbol(forecaster, asset, history))
        return forecaster

    def versions(self, asset: str) -> list[Version]:
        """Every version of ``hpcast-<asset>``, newest first, with aliases, its run's metrics and its tags."""
        name = model_name(asset)
        found = self.client.search_model_versions(f"name = '{name}'")
        if not found:
            raise RegistryError(f"asset ({asset!r}) has no registered model {name!r}; models: "
                                f"{', '.join(self.assets()) or 'none yet'}")
        aliases: dict[str, list[str]] = {}
        for alias, version in self.client.get_registered_model(name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        out = []
        for entry in sorted(found, key=lambda v: -int(v.version)):
            metrics = self.client.get_run(entry.run_id).data.metrics if entry.run_id else {}
            out.append(Version(asset, int(entry.version), tuple(sorted(aliases.get(str(entry.version), []))),
                               entry.run_id or "", _when(entry.creation_timestamp), dict(metrics), dict(entry.tags)))
        return out

    def _registered(self, filter_string: str | None = None) -> list[Any]:
        """Every registered model (matching ``filter_string``), page by page."""
        found, token = [], None
        while True:
            page = self.client.search_registered_models(filter_string=filter_string, max_results=100,
                                                        page_token=token)
            found += list(page)
            token = getattr(page, "token", None)
            if not token:
                return found

    def assets(self) -> list[str]:
        """Keys with a registered model: assets, and global models' names."""
        names = [m.name for m in self._registered()]
        return sorted(n.removeprefix("hpcast-") for n in names if n.startswith("hpcast-"))


def _when(millis: int | None) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp((millis or 0) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
