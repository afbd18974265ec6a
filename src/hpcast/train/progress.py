"""Rich progress bars for long work: epochs (losses, seconds per epoch) and a backtest's model fits."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

__all__ = ["EpochProgress", "FoldProgress"]


def _progress(console: Console | None = None) -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console or Console(stderr=True), transient=False)


class EpochProgress:
    """Shows epoch m/n with train/validation loss and seconds per epoch; plugs into `RunContext(progress=...)`."""

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


class FoldProgress:
    """Counts a backtest's model fits (every fold refits every model); plugs into `backtest(progress=...)`."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console
        self._bar: Progress | None = None

    def start(self, total: int) -> None:
        self._bar = _progress(self.console)
        self._bar.start()
        self._task = self._bar.add_task("backtest fits", total=total, info="")

    def advance(self, done: int) -> None:
        assert self._bar is not None
        self._bar.update(self._task, advance=1, info=f"fit {done + 1} done")

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
