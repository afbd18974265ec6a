"""The tutorial notebooks: each executes top to bottom, reprints the key figures it was committed with, and the
README quotes exactly those figures.

The README's notebooks section has one table row per notebook: a link to ``notebooks/<name>.ipynb`` in its first
cell and the notebook's key figures as one backticked JSON object in its last cell, e.g.

    | [1. Forecasting honestly](notebooks/01_forecasting_honestly.ipynb) | ... | 45 s | `{"lookahead": 0.43}` |
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ROW = re.compile(r"^\|.*\(notebooks/(?P<name>[\w.-]+\.ipynb)\).*`(?P<figures>\{.*\})`\s*\|\s*$")
RTOL = 0.02  # identical on one machine; another CPU may round float32 sums differently


def _load_execute() -> Any:
    spec = importlib.util.spec_from_file_location("notebooks_execute", ROOT / "notebooks" / "execute.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


execute = _load_execute()


def _read(path: Path) -> Any:
    import nbformat

    return nbformat.read(path, as_version=4)


def _pngs(notebook: Any) -> int:
    return sum("image/png" in output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
               for output in cell.get("outputs", []))


def _mismatches(fresh: Any, committed: Any, where: str = "") -> list[str]:
    """Where two key-figure objects differ: numbers beyond `RTOL`, anything else not equal, keys apart."""
    if isinstance(committed, dict) and isinstance(fresh, dict):
        if set(fresh) != set(committed):
            return [f"{where or 'top'}: keys {sorted(fresh)} != {sorted(committed)}"]
        return [m for key in committed for m in _mismatches(fresh[key], committed[key], f"{where}.{key}")]
    numbers = (int, float)
    if isinstance(fresh, numbers) and isinstance(committed, numbers) and not isinstance(fresh, bool):
        return [] if math.isclose(fresh, committed, rel_tol=RTOL) else [f"{where}: {fresh} != {committed}"]
    if isinstance(fresh, str) and isinstance(committed, str) and _magnitude(fresh) and _magnitude(committed):
        near = abs(math.log10(float(fresh)) - math.log10(float(committed))) <= 1  # another CPU may round apart
        return [] if near else [f"{where}: {fresh!r} != {committed!r} (more than a decade apart)"]
    return [] if fresh == committed else [f"{where}: {fresh!r} != {committed!r}"]


def _magnitude(text: str) -> bool:
    """An order of magnitude such as ``"1e-16"`` (how the notebooks quote rounding-level differences)."""
    return re.fullmatch(r"[1-9]e-?\d+", text) is not None


def _readme_figures() -> dict[str, dict[str, Any]]:
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            rows[match["name"]] = json.loads(match["figures"])
    return rows


def test_there_are_four_notebooks() -> None:
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_executed_with_pictures(path: Path) -> None:
    notebook = _read(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), "commit the notebook executed, top to bottom"
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1)), "executed in order, once"
    errors = [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert not errors, [f"saved with an error: {o.ename}: {o.evalue}" for o in errors]
    assert _pngs(notebook) >= 1, "a tutorial tells its story with at least one figure (inline PNG)"
    assert execute.key_figures(notebook)  # its last code cell printed them


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_readme_quotes_each_notebooks_key_figures(path: Path) -> None:
    quoted = _readme_figures()
    assert path.name in quoted, (f"README.md's notebooks table has no row linking notebooks/{path.name} with its "
                                 "key figures as `{json}` in the last cell")
    assert quoted[path.name] == execute.key_figures(_read(path))


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_and_reprints_its_key_figures(path: Path, tmp_path: Path) -> None:
    run = execute.execute(path, save_to=tmp_path / path.name)  # nbclient raises on any cell's error
    print(f"{path.name}: {run.seconds:.1f} s")
    assert _pngs(run.notebook) >= 1, "the figures must be embedded (inline backend), not lost to Agg"
    committed = execute.key_figures(_read(path))
    assert _mismatches(run.figures, committed) == []


def _tiny_notebook(folder: Path, *sources: str) -> Path:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    path = folder / "tiny.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(s) for s in sources],
                                metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                         "language": "python"}}), path)
    return path


def test_execute_saves_outputs_and_reads_the_key_figures(tmp_path: Path) -> None:
    path = _tiny_notebook(tmp_path, "import os\nx = 2", 'print(os.getcwd())\nprint(\'KEY FIGURES: {"x": %d}\' % x)')
    run = execute.execute(path, timeout=120, save_to=path)
    assert run.figures == {"x": 2}
    assert run.saved == path and execute.key_figures(_read(path)) == {"x": 2}
    assert _read(path).cells[1].outputs[0].text.splitlines()[0] == str(ROOT / "notebooks")  # the cwd it promises
    assert run.seconds > 0


def test_execute_fails_on_an_error(tmp_path: Path) -> None:
    from nbclient.exceptions import CellExecutionError

    path = _tiny_notebook(tmp_path, "raise ZeroDivisionError('the reason')", "print('never')")
    with pytest.raises(CellExecutionError, match="the reason"):
        execute.execute(path, timeout=120)


def test_execute_stops_at_the_notebooks_timeout(tmp_path: Path) -> None:
    from nbclient.exceptions import CellTimeoutError

    path = _tiny_notebook(tmp_path, "import time", "time.sleep(600)")
    with pytest.raises(CellTimeoutError, match=r"time\.sleep\(600\)"):  # nbclient quotes the cell it stopped
        execute.execute(path, timeout=20)  # the second cell gets what the kernel start and the first cell left


def test_execute_rejects_a_timeout_that_is_not_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"timeout \(0\) must be > 0 seconds"):
        execute.execute(tmp_path / "never-read.ipynb", timeout=0)


def test_key_figures_names_what_is_missing() -> None:
    from nbformat.v4 import new_code_cell, new_notebook

    with pytest.raises(ValueError, match=r"printed 0 line\(s\) starting with 'KEY FIGURES:'"):
        execute.key_figures(new_notebook(cells=[new_code_cell("print(1)")]))
    with pytest.raises(ValueError, match="no code cell"):
        execute.key_figures(new_notebook(cells=[]))


def test_figures_compare_within_the_tolerance() -> None:
    assert _mismatches({"a": {"b": 1.0}, "c": "x"}, {"a": {"b": 1.015}, "c": "x"}) == []
    assert _mismatches({"a": {"b": 1.0}}, {"a": {"b": 1.03}}) == [".a.b: 1.0 != 1.03"]
    assert _mismatches({"a": 1}, {"b": 1}) == ["top: keys ['a'] != ['b']"]
    assert _mismatches({"d": "2e-16"}, {"d": "1e-16"}) == []
    assert _mismatches({"d": "1e-14"}, {"d": "1e-16"}) == [".d: '1e-14' != '1e-16' (more than a decade apart)"]
