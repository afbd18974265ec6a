"""The data a trial fits on when the covariate set is searched.

Covariates are chosen when the data is loaded, so a covariate set is a panel of its own: `Spans` holds a
loader (``load(covariates)`` returns the `Panel`, e.g. ``functools.partial(load_panel, dataset="sp500")``),
loads each distinct set once per process, and cuts each panel to its tuning span exactly as
`hpcast.tune.objective.tuning_span` does. It pickles with the panels it has loaded, so spawned trial
processes start with them.

Example:
    >>> spans = Spans(functools.partial(load_panel, dataset="sp500"), RunConfig())  # doctest: +SKIP
    >>> spans.searched(None)  # doctest: +SKIP
    ('', 'calendar', 'volume,calendar', 'ma_ratio:50,calendar')
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hpcast.config import RunConfig
from hpcast.data.panel import Panel
from hpcast.errors import ConfigError
from hpcast.tune.objective import tuning_span
from hpcast.tune.space import COVARIATE_SETS

__all__ = ["Spans"]


class Spans:
    """The panel and the tuning span of each covariate set, loaded on first use and kept."""

    def __init__(self, load: Callable[[str], Panel], base: RunConfig) -> None:
        self.load, self.base = load, base
        self._panels: dict[str, Panel] = {}
        self._spans: dict[str, Panel] = {}

    def panel(self, covariates: str) -> Panel:
        """The whole panel loaded with ``covariates`` (a comma-separated list, ``""`` for none)."""
        if covariates not in self._panels:
            self._panels[covariates] = self.load(covariates)
        return self._panels[covariates]

    def span(self, covariates: str) -> Panel:
        """The rows of ``panel(covariates)`` before the first default backtest fold."""
        if covariates not in self._spans:
            self._spans[covariates] = tuning_span(self.panel(covariates), self.base)[0]
        return self._spans[covariates]

    def searched(self, wanted: Any = None) -> tuple[str, ...]:
        """The covariate sets to search: `COVARIATE_SETS`' that this data can give (the others fail to load
        and are left out), or ``wanted`` (a ``[space] covariates`` entry: a set or a list of sets), each of
        which must load; its error in one line otherwise."""
        if wanted is None:
            return tuple(choice for choice in COVARIATE_SETS if self._loads(choice))
        choices = [wanted] if isinstance(wanted, str) else wanted
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise ConfigError(f"space.covariates ({wanted!r}) must be a covariate set or a list of them, as "
                              '--covariates writes them, e.g. ["", "calendar", "volume,calendar"]')
        if not choices:
            raise ConfigError("space.covariates: no choices left (an empty list); give at least one value")
        for choice in choices:
            try:
                self.panel(choice)
            except ValueError as error:  # DataError: an unknown name lists the valid ones
                raise ConfigError(f"space.covariates ({choice!r}): {' '.join(str(error).split())}") from None
        return tuple(choices)

    def _loads(self, covariates: str) -> bool:
        try:
            self.span(covariates)
        except ValueError:  # e.g. no volume column, or too few rows for the moving average
            return False
        return True
