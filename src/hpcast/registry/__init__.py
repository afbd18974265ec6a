"""MLflow-backed model registry: log training runs, register per-asset models, load by alias (no pickle)."""

from hpcast.registry.registry import (
    CHALLENGER,
    CHAMPION,
    Registry,
    RegistryError,
    data_dir,
    model_name,
    tracking_uri,
)

__all__ = ["CHALLENGER", "CHAMPION", "Registry", "RegistryError", "data_dir", "model_name", "tracking_uri"]
