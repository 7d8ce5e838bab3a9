"""How a run ended, as its final record states it: status, error, final values, time."""
from __future__ import annotations

import os
import time
from collections.abc import Mapping

from tmt._warn import warn
from tmt.errors import TmtError
from tmt.recorder.sigterm import Terminated
from tmt.recorder.values import split_final

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

#: The recorder's own frames, left out of a recorded traceback.
_HERE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def now_iso() -> str:
    """Local time with its UTC offset, to the microsecond: what
    `datetime.now().astimezone().isoformat(timespec="microseconds")` gives, without
    importing datetime (milliseconds at the start of every recorded script)."""
    ns = time.time_ns()
    t = time.localtime(ns // 1_000_000_000)
    offset = t.tm_gmtoff or 0
    sign = "-" if offset < 0 else "+"
    hours, rest = divmod(abs(offset), 3600)
    minutes, seconds = divmod(rest, 60)
    zone = f"{sign}{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', t)}.{ns // 1000 % 1_000_000:06d}{zone}"


def final_values(name: str, metrics: Mapping[str, Any], returned: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics, outputs) of a run called `name`: `run.metrics` updated by what the function
    returned (a dict); numbers are metrics, the rest outputs (each with a warning)."""
    final = dict(metrics)
    if returned is not None:
        if isinstance(returned, Mapping):
            final.update(returned)
        else:
            warn(
                f"run {name!r} returned a {type(returned).__name__}, not a dict of metrics; "
                "no final metrics were taken from it"
            )
    numbers, outputs = split_final(final)
    if outputs:
        names = ", ".join(repr(k) for k in outputs)
        what = "is not a number" if len(outputs) == 1 else "are not numbers"
        kept = "a metric" if len(outputs) == 1 else "metrics"
        warn(f"run {name!r}: {names} {what}: kept in the record's outputs (see `tmt show`), not as {kept}")
    return numbers, outputs


def status_of(exc: BaseException | None) -> str:
    """`completed`, `failed` or `interrupted` (Ctrl-C, SIGTERM); sys.exit(0) completes."""
    if exc is None:
        return "completed"
    if isinstance(exc, (KeyboardInterrupt, Terminated)):
        return "interrupted"
    if isinstance(exc, SystemExit) and exc.code in (None, 0):
        return "completed"
    return "failed"


def error_info(exc: BaseException, root: Path | None) -> dict[str, Any]:
    """The record's `error`: type, message and traceback (project frames relative to `root`)."""
    import traceback

    cls = type(exc)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    frames = exc.__traceback__
    # The recorder's own frames (the decorator's wrapper) come first: leave them out.
    while frames is not None and frames.tb_frame.f_code.co_filename.startswith(_HERE) and frames.tb_next:
        frames = frames.tb_next
    tb = "".join(traceback.format_exception(cls, exc, frames))
    if root is not None:
        # Frames in the project are shown relative to the code root: the record stays true
        # when the project moves.
        tb = tb.replace(f'File "{root}{os.sep}', 'File "')
    message = exc.message if isinstance(exc, TmtError) else str(exc)
    return {"type": name, "message": message, "traceback": tb}
