"""Progress on stderr for long commands (gc, fsck, checkout, push, pull, migrate, a first snapshot):
only on a terminal, only after about a second."""
from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

LABELS = {
    "hash": "Checking objects",
    "mark": "Reading records",
    "scan": "Scanning objects",
    "move": "Moving candidates aside",
    "delete": "Deleting",
    "snapshot": "Hashing files",  # tmt.snapshot.build.PROGRESS_PHASE
    "migrate": "Importing tmt 0.1.8 runs",  # tmt.legacy.migrate.PROGRESS_PHASE
}


class StderrProgress:
    """Callable(phase, done, total). Silent unless stderr is a terminal and the work is slow."""

    def __init__(self, delay_s: float = 1.0, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.delay_s = delay_s
        self.start = time.monotonic()
        self.enabled = _isatty(self.stream)
        self._bar: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __call__(self, phase: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            if time.monotonic() - self.start < self.delay_s:
                return
            from rich.console import Console
            from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
            from rich.progress import Progress as Bar

            self._bar = Bar(
                TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=True,
            )
            self._bar.start()
        task = self._tasks.get(phase)
        if task is None:
            task = self._tasks[phase] = self._bar.add_task(LABELS.get(phase, phase), total=total or None)
        self._bar.update(task, completed=done, total=total or None)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> "StderrProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
