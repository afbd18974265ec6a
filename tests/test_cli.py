import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from hpcast.cli import _walk, cli, render_docs

ROOT = Path(__file__).parent.parent


def _commands():
    return [("hpcast", cli), *_walk(cli, "hpcast")]


@pytest.mark.parametrize(("name", "command"), _commands(), ids=[n for n, _ in _commands()])
def test_every_command_has_help_with_an_example(name, command):
    result = CliRunner().invoke(cli, [*name.split()[1:], "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "hpcast " in result.output.split("Example:")[1], name


def test_docs_are_generated_from_the_help_and_current():
    documented = (ROOT / "docs" / "cli.md").read_text()
    assert documented == render_docs(), "docs/cli.md is stale: run `make docs`"
    for name, _ in _commands():
        assert f"## `{name}`" in documented


def test_help_imports_nothing_heavy():
    code = ("import sys; from hpcast.cli import cli; heavy = {'torch', 'statsmodels', 'matplotlib', 'yfinance', "
            "'pandas'} & set(sys.modules); print(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_data_list_and_show():
    runner = CliRunner()
    listing = runner.invoke(cli, ["data", "list"])
    assert listing.exit_code == 0 and "air_passengers" in listing.output and "sp500" in listing.output
    shown = runner.invoke(cli, ["data", "show", "air_passengers"])
    assert shown.exit_code == 0
    for fact in ("rows: 144", "from: 1949-01-01", "to: 1960-12-01", "frequency: MS", "source: bundled"):
        assert fact in shown.output


BAD = {
    "missing": ("date,close\n2020-01-01,10\n2020-01-02,\n2020-01-03,12\n", "row 3: missing value"),
    "duplicate": ("date,close\n2020-01-01,10\n2020-01-02,11\n2020-01-02,12\n", "row 4: duplicate date"),
    "negative": ("date,close\n2020-01-01,10\n2020-01-02,-1\n2020-01-03,12\n", "row 3: value -1"),
    "text": ("date,close\n2020-01-01,10\n2020-01-02,abc\n2020-01-03,12\n", "row 3: value 'abc'"),
    "empty": ("", "row 1: file is empty"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", ["train", "backtest", "forecast", "plot"])
def test_bad_csv_exits_non_zero_with_one_line_and_writes_nothing(tmp_path, case, command):
    text, rule = BAD[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    out = tmp_path / "run"
    result = CliRunner().invoke(cli, [command, "--csv", str(path), "--out", str(out)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: ") and rule in lines[0]
    assert not out.exists()


def test_config_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--dataset", "air_passengers", "--layers", "4,5", "--dropout", "0.1",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "Error: dropout ([0.1]) must give one rate per layer (2 layers)" in result.output
    assert not (tmp_path / "run").exists()


def test_training_flags_with_a_saved_model_are_refused(tmp_path):
    result = CliRunner().invoke(cli, ["forecast", "--dataset", "air_passengers", "--model", str(tmp_path),
                                      "--epochs", "3", "--seed", "2", "--out", str(tmp_path / "fc")])
    assert result.exit_code == 2
    assert "--epochs, --seed only apply when training" in result.output
    assert not (tmp_path / "fc").exists()


def test_workers_must_be_positive(tmp_path):
    result = CliRunner().invoke(cli, ["train", "--dataset", "air_passengers", "--workers", "0",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 2 and "--workers" in result.output and "0 is not in the range x>=1" in result.output
