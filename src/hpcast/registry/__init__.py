"""MLflow-backed model registry: log training runs, register per-asset and global models, load by alias
(no pickle); an asset without a champion of its own is served by a global champion that covers it."""

from hpcast.errors import RegistryError
from hpcast.registry.registry import (
    ASSET,
    CHALLENGER,
    CHAMPION,
    GLOBAL,
    Registry,
    Resolved,
    data_dir,
    for_symbol,
    model_name,
    tracking_uri,
)

__all__ = ["ASSET", "CHALLENGER", "CHAMPION", "GLOBAL", "Registry", "RegistryError", "Resolved", "data_dir",
           "for_symbol", "model_name", "tracking_uri"]
