"""One version, in `hpcast.__version__`: the package metadata, `hpcast --version` and every manifest agree."""

import json
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

from hpcast import __version__
from hpcast.data.bundled import load_bundled
from hpcast.jobs import train_job

ROOT = Path(__file__).parent.parent


def test_pyproject_reads_the_version_from_the_package_and_states_none_of_its_own():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "hpcast.__version__"}


def test_installed_metadata_matches_the_package():
    # A stale editable install (the version changed since `pip install -e .`) fails here: reinstall it.
    assert version("hpcast") == __version__


def test_cli_prints_the_version():
    done = subprocess.run([sys.executable, "-m", "hpcast", "--version"], capture_output=True, text=True, check=True)
    assert done.stdout == f"hpcast {version('hpcast')}\n"


def test_run_and_model_manifests_record_the_version(tmp_path, tiny):
    train_job(load_bundled("air_passengers"), tiny(epochs=1), tmp_path, quiet=True)
    run = json.loads((tmp_path / "manifest.json").read_text())
    model = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert run["hpcast_version"] == model["hpcast_version"] == version("hpcast")
