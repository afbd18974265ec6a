"""Execute the tutorial notebooks top to bottom with nbclient, save them with their outputs, time each.

    python notebooks/execute.py                                   # every notebooks/*.ipynb, in place
    python notebooks/execute.py notebooks/01_forecasting_honestly.ipynb --timeout 300
    python notebooks/execute.py --out /tmp/executed                # leave the committed notebooks alone

Each notebook runs on the ``python3`` kernel of the interpreter that runs this script (the .venv's), with
``notebooks/`` as its working directory; the notebooks themselves write only into a temporary folder, so
executing one leaves nothing in the repository but its own outputs. The timeout is per notebook, kernel
start included: every cell may use what the cells before it left of it. Any error stops the notebook with
nbclient's `CellExecutionError` (or `CellTimeoutError`), naming the cell.

The last code cell of every notebook prints one line ``KEY FIGURES: {json}``; `key_figures` reads it back, so
a test can hold a fresh execution to the committed one and the README to both.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent
KEY_FIGURES = "KEY FIGURES: "
DEFAULT_TIMEOUT = 300  # seconds per notebook; each is meant to take about a minute on 2 cores

__all__ = ["DEFAULT_TIMEOUT", "KEY_FIGURES", "NOTEBOOKS", "Executed", "execute", "key_figures", "main", "notebooks"]


@dataclass(frozen=True)
class Executed:
    """One executed notebook: the node with its outputs, its wall time (kernel start included), where it
    was saved (None: not saved) and the figures its last code cell printed."""

    notebook: Any
    seconds: float
    saved: Path | None
    figures: dict[str, Any]


def notebooks() -> list[Path]:
    """Every tutorial notebook, in reading order (their names start with their number)."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def key_figures(notebook: Any) -> dict[str, Any]:
    """The JSON object printed as ``KEY FIGURES: {...}`` by ``notebook``'s last code cell.

    Raises:
        ValueError: the last code cell printed no such line (then the notebook was not executed, or its
            last cell was changed), or its JSON is not an object.
    """
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    if not code:
        raise ValueError("notebook has no code cell: its last code cell must print 'KEY FIGURES: {json}'")
    lines = [line for output in code[-1].get("outputs", []) if output.get("output_type") == "stream"
             for line in output.get("text", "").splitlines() if line.startswith(KEY_FIGURES)]
    if len(lines) != 1:
        raise ValueError(f"the last code cell printed {len(lines)} line(s) starting with {KEY_FIGURES.strip()!r} "
                         "(must be exactly 1: print it there, and execute the notebook)")
    figures = json.loads(lines[0].removeprefix(KEY_FIGURES))
    if not isinstance(figures, dict):
        raise ValueError(f"KEY FIGURES ({lines[0]!r}) must be a JSON object")
    return figures


def execute(path: str | Path, *, timeout: float = DEFAULT_TIMEOUT, save_to: str | Path | None = None,
            kernel: str = "python3") -> Executed:
    """Execute the notebook at ``path`` top to bottom within ``timeout`` seconds; save it to ``save_to``
    (``path`` itself for in place; None: not saved).

    Execution timestamps are not recorded in the cells, so re-executing a notebook changes only what its
    code prints and draws.

    Example:
        >>> run = execute("notebooks/01_forecasting_honestly.ipynb", save_to="/tmp/01.ipynb")  # doctest: +SKIP
        >>> run.figures["backtest_mase"]                                                      # doctest: +SKIP
    """
    import nbformat
    from nbclient import NotebookClient

    if timeout <= 0:
        raise ValueError(f"timeout ({timeout}) must be > 0 seconds")
    path = Path(path)
    notebook = nbformat.read(path, as_version=4)
    started = time.perf_counter()
    deadline = started + timeout

    def remaining(cell: Any) -> int:  # nbclient asks before every cell; the notebook's budget is shared
        return max(1, int(deadline - time.perf_counter()))

    client = NotebookClient(notebook, kernel_name=kernel, timeout_func=remaining, record_timing=False,
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    # The kernel's environment less MPLBACKEND: a caller's Agg (CI exports it for the suite) would stop the
    # kernel from embedding its figures; without it ipykernel draws inline, as on a person's machine.
    client.execute(env={name: value for name, value in os.environ.items() if name != "MPLBACKEND"})
    seconds = time.perf_counter() - started
    saved = None
    if save_to is not None:
        saved = Path(save_to)
        nbformat.write(notebook, saved)
    return Executed(notebook, seconds, saved, key_figures(notebook))


def main(argv: list[str] | None = None) -> None:
    """Execute the notebooks named (default: all), in place or into ``--out``, printing each one's wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="notebooks to execute [default: notebooks/*.ipynb]")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per notebook")
    parser.add_argument("--out", type=Path, help="folder to save the executed notebooks in [default: in place]")
    args = parser.parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks or notebooks():
        run = execute(path, timeout=args.timeout, save_to=(args.out / path.name) if args.out else path)
        print(f"{path.name}: {run.seconds:.1f} s  {KEY_FIGURES}{json.dumps(run.figures)}", flush=True)


if __name__ == "__main__":
    main()
