"""Rich progress bars for long work: one for epochs (loss, epoch time) and one for counted steps."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["EpochProgress", "steps"]


def _progress(console: Console | None = None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console or Console(stderr=True), transient=False)


class EpochProgress:
    """Shows epoch m/n with train/validation loss and seconds per epoch; plugs into `train(progress=...)`."""

    def __init__(self, description: str = "training", console: Console | None = None) -> None:
        self.description, self.console = description, console
        self._bar: Progress | None = None

    def start(self, total: int, done: int = 0) -> None:
        self._bar = _progress(self.console)
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=total, completed=done, info="")

    def advance(self, record: Any, best: float) -> None:
        assert self._bar is not None
        info = (f"train {record.train_loss:.4g}  val {record.val_loss:.4g} (best {best:.4g})  "
                f"{record.seconds:.2f} s/epoch")
        self._bar.update(self._task, advance=1, info=info)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


def steps(description: str, total: int, console: Console | None = None) -> Progress:
    """A started bar for ``total`` steps: use as ``with steps(...) as bar: bar.advance(bar.task_ids[0])``."""
    bar = _progress(console)
    bar.add_task(description, total=total, info="")
    return bar
