"""The data-source table: every source declared once, and the flags, keywords and rules read from it."""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing

import click
import pytest

from hpcast.cli import _walk, cli
from hpcast.cli.options import DATA_FLAGS
from hpcast.config import BacktestConfig, DistributedConfig, RunConfig, TrainConfig
from hpcast.data import DataError
from hpcast.inputs import SOURCES, DataRequest, load_data, load_panel
from hpcast.inputs.sources import PANEL_PICKERS, SERIES_OPTIONS, SERIES_PICKERS, check_request, pick_source

FIELDS = {f.name for f in dataclasses.fields(DataRequest)}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_every_row_names_real_options_and_an_importable_reader(name):
    source = SOURCES[name]
    assert set(source.picked_by) | set(source.options) <= FIELDS
    for path in filter(None, (source.reader, source.detect)):
        module, _, attribute = path.partition(":")
        assert callable(getattr(importlib.import_module(module), attribute)), path


def test_each_request_option_is_a_flag_of_every_data_command_with_its_help():
    """The CLI builds its data flags from DataRequest: a new field is a new flag, help included."""
    assert set(DATA_FLAGS) == FIELDS - {"store"}
    train = cli.commands["train"]
    params = {p.name: p for p in train.params}
    for f in dataclasses.fields(DataRequest):
        if f.name == "store":
            continue
        assert params[f.name].help.startswith(f.metadata["help"][:40]), f.name
        assert params[f.name].opts == [f"--{f.name.replace('_', '-')}"]
    assert tuple(params["missing"].type.choices) == ("error", "drop", "ffill")


@pytest.mark.parametrize(("request_", "source", "picker"), [
    ({"datasets": "sp500,gold"}, "bundled", "datasets"),
    ({"symbols": "sp500"}, "bundled", "symbols"),
    ({"symbols": "sp500", "from_store": True}, "store", "symbols"),
    ({"ticker": "^GSPC"}, "yahoo", "ticker"),
])
def test_a_request_picks_its_row(request_, source, picker):
    picked, by = pick_source(DataRequest(**request_))
    assert (picked.name, by) == (source, picker)


def test_a_csv_file_is_long_when_it_has_an_id_column(tmp_path):
    long, wide = tmp_path / "long.csv", tmp_path / "wide.csv"
    long.write_text("unique_id,ds,y\na,2024-01-01,1\n")
    wide.write_text("date,value\n2024-01-01,1\n")
    assert pick_source(DataRequest(csv=long))[0].name == "long-csv"
    assert pick_source(DataRequest(csv=wide))[0].name == "csv"
    assert pick_source(DataRequest(csv=wide, id_col="id"))[0].name == "long-csv"
    assert pick_source(DataRequest(csv=long), SERIES_PICKERS)[0].name == "csv"  # one series: never the panel row


def test_an_option_its_source_does_not_take_is_refused_by_the_rows_words():
    request = DataRequest(dataset="sp500", date_format="dayfirst", missing="drop")
    source, picker = pick_source(request, SERIES_PICKERS)
    with pytest.raises(DataError, match=r"^--date-format, --missing apply to --csv files only \(got --dataset\)$"):
        check_request(request, source, picker, panel=False)
    with pytest.raises(DataError, match=r"^--date-format applies to --csv files only \(got --dataset\)$"):
        check_request(request, source, picker, panel=True)  # a panel's --missing also fills covariates' holes


def test_one_series_options_are_what_the_series_rows_take():
    expected = {"dataset", "csv", "ticker", "date_col", "value_col", "date_format", "missing", "start", "end",
                "calendar"}
    assert expected == SERIES_OPTIONS
    assert set(PANEL_PICKERS) > set(SERIES_PICKERS)


def test_load_data_refuses_a_panel_source_and_unknown_options():
    with pytest.raises(DataError, match=re.escape("--datasets read a panel of many series")):
        load_data(datasets="sp500,gold")
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        load_panel(dataset="sp500", colour="red")


def test_flag_choices_are_the_configs_literals():
    """No click.Choice restates a Literal of the config: each flag named after a setting offers its values."""
    settings = {name: hint for cls in (RunConfig, TrainConfig, BacktestConfig, DistributedConfig)
                for name, hint in typing.get_type_hints(cls).items()}
    checked = set()
    for _, command in _walk(cli, "hpcast"):
        for param in command.params:
            hint = settings.get(param.name)
            if isinstance(param.type, click.Choice) and typing.get_origin(hint) is typing.Literal:
                assert tuple(param.type.choices) == typing.get_args(hint), (command.name, param.name)
                checked.add(param.name)
    assert len(checked) == 11  # the config's 11 Literals, each a flag


def test_data_list_shows_every_source_with_the_flags_that_pick_it():
    from click.testing import CliRunner

    output = CliRunner().invoke(cli, ["data", "list"], env={"COLUMNS": "200"}).output
    for name, source in SOURCES.items():
        line = next(line for line in output.splitlines() if line.strip().startswith(f"{name} "))
        assert source.description[:30] in line and f"--{source.picked_by[0]}" in line, line
    assert "--symbols with --from-store" in output
