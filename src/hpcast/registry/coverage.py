"""What a registered model covers: its scope (per asset or global), its symbols, and which model serves an
asset (`Resolved`, from `hpcast.registry.Registry.resolve`; the rule is in `hpcast.registry.registry`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ASSET", "GLOBAL", "SCOPE_TAG", "SYMBOLS_TAG", "Resolved", "for_symbol", "symbols_of"]

ASSET, GLOBAL = "asset", "global"  # a registered model's scope
SCOPE_TAG, SYMBOLS_TAG = "hpcast.scope", "hpcast.symbols"


def symbols_of(text: str | None) -> tuple[str, ...]:
    """The symbols a ``hpcast.symbols`` tag lists (``"aapl,msft"``)."""
    return tuple(s for s in (text or "").split(",") if s)


@dataclass(frozen=True)
class Resolved:
    """Which registered model serves ``asset`` (`Registry.resolve`): ``key`` (``hpcast-<key>``), the version
    its alias points at, its scope (`ASSET` or `GLOBAL`) and the symbols that version was fitted on."""

    asset: str
    key: str
    version: int
    scope: str
    symbols: tuple[str, ...]

    @property
    def is_global(self) -> bool:
        return self.scope == GLOBAL


def for_symbol(forecaster: Any, asset: str, history: Any) -> Any:
    """``history`` as ``asset``'s series for ``forecaster``: a global model reads a ``pd.Series`` as the
    series of the symbol it is named for, so one named otherwise (``adj_close``) is renamed to ``asset``."""
    import pandas as pd

    if isinstance(history, pd.Series) and len(forecaster.series) > 1 and asset in forecaster.series:
        return history.rename(asset)
    return history
