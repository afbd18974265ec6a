"""The distribution: `python -m build` makes an sdist, then a wheel from that sdist, and the wheel runs on its own.

The wheel goes into a temporary virtual environment with ``pip install --no-deps``; its dependencies come from
this test's own environment through a ``.pth`` line, which appends that folder to ``sys.path`` after the new
environment's own and, unlike a site folder, runs none of the ``.pth`` files in it, so the checkout's editable
install (``__editable__.hpcast-*.pth`` -> ``src/``) stays off the path. (``venv --system-site-packages`` would
not do: from inside a virtual environment it exposes the base interpreter's packages, not this one's.) Every
command runs from a folder outside the checkout, and an audit hook records any file opened or listed inside
the checkout but outside this environment's prefix: there must be none.
"""

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

from hpcast import __version__

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "src" / "hpcast" / "data" / "files"
BUNDLED = sorted(path.name.removesuffix(".csv.gz") for path in DATA.glob("*.csv.gz"))
# Runs `hpcast` (argv after the first three) under an audit hook that records opens and listings inside the
# checkout (argv[1]) but outside the test environment's prefix (argv[2]); writes them as JSON to argv[3].
WATCHED = """
import atexit, json, os, sys
root, allowed, report = sys.argv[1:4]
del sys.argv[1:4]
reads = []
def watch(event, args):
    if event in ("open", "os.listdir", "os.scandir") and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if path.startswith(root + os.sep) and not path.startswith(allowed + os.sep):
            reads.append(path)
sys.addaudithook(watch)
atexit.register(lambda: open(report, "w").write(json.dumps(reads)))
from hpcast.cli import main
sys.argv[0] = "hpcast"
main()
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> tuple[Path, Path, str]:
    """The sdist, the wheel built from it, and the build's log."""
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: this environment's setuptools builds, offline and in seconds (an isolated build would
    # download one); `build` still checks it against [build-system] requires.
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return sdist, wheel, done.stderr  # where `build` reports its steps


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory) -> Path:
    """A fresh virtual environment holding the wheel, with this environment's packages behind it."""
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    python = root / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(dist[1])], check=True,
                   timeout=300, env=_clean_env())
    own = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(own) / "hpcast_test_dependencies.pth").write_text("".join(f"{folder}\n" for folder in ours))
    return root


def _clean_env() -> dict[str, str]:
    """The environment minus anything that could put the checkout on the path."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}}
    return {**env, "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg"}


def _run(venv: Path, cwd: Path, *args: str | Path) -> str:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**_clean_env(), "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_the_wheel_is_built_from_the_sdist(dist):
    sdist, wheel, log = dist
    assert "Building wheel from sdist" in log
    assert wheel.name == f"hpcast-{__version__}-py3-none-any.whl" and sdist.name == f"hpcast-{__version__}.tar.gz"


def test_the_wheel_holds_every_module_the_bundled_data_and_its_attribution(dist):
    with zipfile.ZipFile(dist[1]) as wheel:
        names, metadata = set(wheel.namelist()), wheel.read(f"hpcast-{__version__}.dist-info/METADATA").decode()
    src = ROOT / "src"
    for module in (src / "hpcast").rglob("*.py"):
        assert module.relative_to(src).as_posix() in names, module
    for file in [*DATA.glob("*.csv.gz"), DATA / "ATTRIBUTION.md"]:
        assert f"hpcast/data/files/{file.name}" in names, file
    assert f"\nVersion: {__version__}\n" in metadata


def test_the_sdist_holds_what_rebuilds_and_tests_the_package(dist):
    with tarfile.open(dist[0]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for kept in ("pyproject.toml", "README.md", "requirements.lock", "Makefile", "src/hpcast/__init__.py",
                 "src/hpcast/data/files/ATTRIBUTION.md", "tests/conftest.py", "tests/e2e/test_wheel.py",
                 "docs/cli.md"):
        assert kept in names, kept
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]


def test_the_installed_wheel_runs_from_outside_the_checkout(venv, tmp_path):
    where = _run(venv, tmp_path, venv / "bin" / "python", "-c",
                 "import hpcast, importlib.metadata as m, importlib.resources as r; print(hpcast.__file__); "
                 "print(r.files('hpcast.data') / 'files' / 'ATTRIBUTION.md'); print(m.version('hpcast'))")
    module, attribution, version = where.splitlines()
    assert Path(module).is_relative_to(venv) and Path(attribution).is_relative_to(venv), where
    assert version == __version__
    assert _run(venv, tmp_path, "hpcast", "--version") == f"hpcast {__version__}\n"
    listing = _run(venv, tmp_path, "hpcast", "data", "list")
    assert [name for name in BUNDLED if f" {name} " not in listing] == []


def test_a_one_epoch_train_reads_nothing_from_the_checkout(venv, tmp_path):
    report = tmp_path / "reads.json"
    _run(venv, tmp_path, venv / "bin" / "python", "-c", WATCHED, ROOT, sys.prefix, report, "train",
         "--dataset", "air_passengers", "--epochs", "1", "--layers", "4", "--quiet", "--out", tmp_path / "run")
    assert json.loads(report.read_text()) == []
    assert (tmp_path / "run" / "model" / "weights.safetensors").is_file()
    manifest = json.loads((tmp_path / "run" / "model" / "manifest.json").read_text())
    assert manifest["hpcast_version"] == __version__
