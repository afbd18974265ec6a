"""The feature store: versioned Parquet feature groups on any fsspec URL, with as-of reads and quarantine."""

from hpcast.errors import StoreError
from hpcast.store.derived import derive
from hpcast.store.schema import GROUPS, FeatureGroup
from hpcast.store.store import DEFAULT_STORE, FeatureStore, UpsertReport, store_url

__all__ = ["DEFAULT_STORE", "GROUPS", "FeatureGroup", "FeatureStore", "StoreError", "UpsertReport", "derive",
           "store_url"]
