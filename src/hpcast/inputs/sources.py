"""The data sources, one row each, and the options a request for data may carry, each declared once.

`DataRequest` holds every option a command's data flags (and `load_panel`'s keywords) can give: its fields
are the options, their metadata the CLI's flag help, so the flags, the keywords and the rules come from
here. `SOURCES` says which option picks each source and which other options it takes; `pick_source` resolves
a request to one row and `check_request` refuses, naming the flags, an option its source does not take.
A new source is one reader module and one row here.

Light on purpose: nothing here imports pandas (``hpcast --help`` builds the data flags from this module);
each row names its reader as ``module:function``, imported when data is read.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hpcast.errors import DataError
from hpcast.features.covariate_kinds import covariates_help  # a plain table: no pandas

__all__ = ["PANEL_PICKERS", "SERIES_OPTIONS", "SERIES_PICKERS", "SOURCES", "DataRequest", "Source", "check_request",
           "option_flag",
           "pick_source", "read_source"]

Names = str | tuple[str, ...] | list[str]
_CSV_ONLY = "{verb} to --csv files only (got {got})"
PANEL_PICKERS = ("datasets", "csv", "symbols", "dataset", "ticker")  # the options that name a panel's data
SERIES_PICKERS = ("dataset", "csv", "ticker")  # ... and one series' (`load_data`)


def _flag(help: str, *, metavar: str | None = None, only: str | None = None, choices: tuple[str, ...] = (),
          is_flag: bool = False) -> dict[str, Any]:
    """A `DataRequest` field's metadata: ``help`` for its flag; ``only``: the rule when a source that does not
    take it is given it (None: not checked), with ``{verb}`` (applies / apply) and ``{got}`` (the picking flag)."""
    return {"help": help, "metavar": metavar, "only": only, "choices": choices, "is_flag": is_flag}


@dataclass(frozen=True)
class DataRequest:
    """Where the data comes from and how to read it: one source option (``dataset``, ``datasets``, ``csv``,
    ``symbols``, ``ticker``) and the options that source takes. Field order is the flags' order in ``--help``."""

    dataset: str | None = field(default=None, metadata=_flag(
        "Bundled dataset (see `hpcast data list`).", metavar="NAME"))
    datasets: Names | None = field(default=None, metadata=_flag(
        "Several bundled datasets as one panel, each on its own calendar and all of one frequency, e.g. "
        "sp500,nasdaq,aapl,msft,goog.", metavar="NAMES"))
    csv: str | Path | None = field(default=None, metadata=_flag(
        "Your own CSV file: a date and a value column, or a long file of many series (an id column, see --id-col).",
        metavar="PATH"))
    id_col: str | None = field(default=None, metadata=_flag(
        "Long CSV: the series id column; a CSV with it is read as long (unique_id, ds, y and covariate columns) "
        "[default: unique_id when the file has it].", metavar="C", only=_CSV_ONLY))
    symbols: Names | None = field(default=None, metadata=_flag(
        "Several series as one panel: bundled names, or with --from-store the feature store's.", metavar="S1,S2"))
    from_store: bool = field(default=False, metadata=_flag(
        "Read --symbols from the feature store (--store where the command has it, else $HPCAST_STORE).",
        is_flag=True, only="reads --symbols: name them, as in --symbols sp500,gold (got {got})"))
    as_of: datetime | str | None = field(default=None, metadata=_flag(
        "With --from-store: the store as it was then, rows ingested later left out (UTC, e.g. 2026-01-05T22:00).",
        metavar="TIMESTAMP", only="reads the feature store as it was then: give it with --symbols and --from-store"))
    covariates: Names = field(default=(), metadata=_flag(
        f"Covariates, comma separated, e.g. volume,ret:nasdaq,ma_ratio:50,calendar. {covariates_help()}.",
        metavar="LIST"))
    date_col: str | None = field(default=None, metadata=_flag(
        "CSV date column [default: date; ds with --id-col].", metavar="C"))
    value_col: str | None = field(default=None, metadata=_flag(
        "Column to model [default: adj_close for prices, else value/close; y with --id-col].", metavar="C"))
    date_format: str | None = field(default=None, metadata=_flag(
        "How CSV dates are written: a strptime format (%d/%m/%Y, %m/%d/%Y %H:%M%z) or dayfirst / monthfirst for "
        "a/b/yyyy dates [default: ISO as written; a/b/yyyy in the order the column proves, else an error].",
        metavar="FMT", only=_CSV_ONLY))
    missing: str = field(default="error", metadata=_flag(
        "CSV value cells that are blank, NA, N/A, NaN, null, #N/A or '.': stop (error), drop their rows, or fill "
        "each from the row above (ffill; leading ones are dropped); the count is printed and kept in the run's "
        "manifest [default: error].", choices=("error", "drop", "ffill"), only=_CSV_ONLY))
    ticker: str | None = field(default=None, metadata=_flag(
        "Yahoo Finance symbol, fetched once then cached.", metavar="SYMBOL"))
    start: str | None = field(default=None, metadata=_flag(
        "With --ticker: first date [default: 2000-01-01].", metavar="DATE"))
    end: str | None = field(default=None, metadata=_flag(
        "With --ticker: end date, exclusive [default: today].", metavar="DATE"))
    calendar: str | None = field(default=None, metadata=_flag(
        "Daily data: the calendar the dates follow, for forecast dates and the gap report: NYSE, London, weekdays "
        "or every-day [default: the bundled dataset's, else weekdays for business days and every-day for daily "
        "data].", metavar="NAME"))
    store: Any = field(default=None, metadata={})  # the feature store's URL or a FeatureStore: not a data flag

    def given(self) -> list[str]:
        """The options set to something other than their defaults, in field order."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name) not in (f.default, None, False)]


def option_flag(name: str) -> str:
    """The CLI flag of option ``name``: ``--date-format`` for ``date_format``."""
    return "--" + name.replace("_", "-")


@dataclass(frozen=True)
class Source:
    """One row of `SOURCES`.

    Attributes:
        name: what ``hpcast data list`` calls it.
        picked_by: the options that pick it (one of them names the data); a pick may also need ``needs``.
        options: the other options it takes (``covariates`` and ``missing``, for covariates' holes, are taken
            by every source of a panel).
        reader: ``module:function`` reading a `DataRequest` into a list of `hpcast.data.Dataset`, or a panel.
        description: one line for ``hpcast data list``.
        needs: an option that must be set for this row (``from_store`` for the store), else unset.
        detect: ``module:function`` telling, from the request, whether this row reads it (a long CSV file).
        panel_only: reads many series, so never what `load_data` (one series) picks.
    """

    name: str
    picked_by: tuple[str, ...]
    options: tuple[str, ...]
    reader: str
    description: str
    needs: str | None = None
    detect: str | None = None
    panel_only: bool = False


_READERS = "hpcast.inputs.panels"
SOURCES: dict[str, Source] = {source.name: source for source in (
    Source("bundled", ("dataset", "datasets", "symbols"), ("value_col", "calendar"), f"{_READERS}:read_bundled",
           "datasets shipped with hpcast, each on its own calendar"),
    Source("long-csv", ("csv",), ("id_col", "date_col", "value_col", "date_format", "missing", "calendar"),
           "hpcast.inputs.long_csv:read_long_csv", "a long CSV file of many series (unique_id, ds, y, covariates)",
           detect="hpcast.inputs.long_csv:is_long", panel_only=True),
    Source("csv", ("csv",), ("date_col", "value_col", "date_format", "missing", "calendar"), f"{_READERS}:read_csv",
           "a CSV file of one series: a date and a value column"),
    Source("yahoo", ("ticker",), ("start", "end", "value_col", "calendar"), f"{_READERS}:read_yahoo",
           "Yahoo Finance, fetched once then cached"),
    Source("store", ("symbols",), ("from_store", "as_of", "store", "value_col"), f"{_READERS}:read_store",
           "the feature store's symbols, as of a time", needs="from_store", panel_only=True),
)}


# what a one-series command (`load_data`) takes: the rest read a panel of many series
SERIES_OPTIONS = frozenset({*SERIES_PICKERS, *(option for source in SOURCES.values() if not source.panel_only
                                              for option in source.options)})


def _load(path: str) -> Any:
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


def pick_source(request: DataRequest, pickers: tuple[str, ...] = PANEL_PICKERS) -> tuple[Source, str]:
    """The row that reads ``request``, and the option that picked it; exactly one of ``pickers`` must be given.
    A row that needs an option or detects its files (the store, a long CSV) is tried before the plain one."""
    given = [name for name in pickers if getattr(request, name)]
    if len(given) != 1:
        flags = [option_flag(name) for name in pickers]
        listed = f"{', '.join(flags[:-1])} or {flags[-1]}"
        raise DataError(f"give exactly one of {listed} (got {', '.join(map(option_flag, given)) or 'none'})")
    picker = given[0]
    rows = sorted(SOURCES.values(), key=lambda source: source.needs is None and source.detect is None)
    for source in rows:
        if picker not in source.picked_by or (source.needs and not getattr(request, source.needs)) or \
                (source.panel_only and pickers != PANEL_PICKERS):
            continue
        if source.detect is None or _load(source.detect)(request):
            return source, picker
    raise AssertionError(f"no source reads {picker}")  # a plain row takes every picker


def check_request(request: DataRequest, source: Source, picker: str, *, panel: bool) -> None:
    """Refuse options ``source`` does not take, naming the flags and the rule (the first rule broken)."""
    takes = {*source.picked_by, *source.options, "store", *(("covariates", "missing") if panel else ())}
    given = request.given()
    groups: dict[str, list[str]] = {}
    for f in dataclasses.fields(request):
        if (only := f.metadata.get("only")) and f.name in given and f.name not in takes:
            groups.setdefault(only, []).append(option_flag(f.name))
    for only, flags in groups.items():
        verb = "applies" if len(flags) == 1 else "apply"
        raise DataError(f"{', '.join(flags)} {only.format(verb=verb, got=option_flag(picker))}")


def read_source(request: DataRequest, source: Source) -> Any:
    """What ``source``'s reader gives for ``request``: a list of datasets, or a panel."""
    return _load(source.reader)(request)
