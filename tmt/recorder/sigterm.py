"""SIGTERM during a run (a cluster job's time limit, `kill`): an exception, so the run ends
as `interrupted` with its steps packed instead of being left for `tmt ls` to call `crashed`."""
from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    import signal as _sig
    from typing import Any
else:
    try:  # signal.py's C core (same functions): signal.py builds three enums on import, ~1 ms a run
        import _signal as _sig
    except ImportError:  # a Python without it
        import signal as _sig


class Terminated(SystemExit):
    """SIGTERM arrived during a run.

    Raised from tmt's handler so the run is recorded as `interrupted`, with its steps packed,
    before the process exits with the usual status for SIGTERM (143).
    """

    def __str__(self) -> str:
        return "terminated by SIGTERM"


# Records name the exception of a run by module and class (error.type): kept as it was
# before this module was split out of tmt.recorder.run, so old and new records agree.
Terminated.__module__ = "tmt.recorder.run"

#: The Terminated raised last in this process: a run a framework integration started sees
#: it at exit, since SystemExit never reaches sys.excepthook (tmt/integrations/core.py).
last_terminated: Terminated | None = None


def on_sigterm(signum: int, frame: Any) -> None:
    global last_terminated
    last_terminated = Terminated(128 + signum)
    raise last_terminated


def catch_sigterm() -> bool:
    """Install the SIGTERM handler for an outermost run, if nobody else handles SIGTERM.
    Only the main thread may install one: elsewhere `signal` raises ValueError."""
    try:
        if _sig.getsignal(_sig.SIGTERM) != _sig.SIG_DFL:
            return False  # the program (or a framework) has its own handler: leave it alone
        _sig.signal(_sig.SIGTERM, on_sigterm)
    except (ValueError, OSError):
        return False
    return True


def release_sigterm() -> None:
    """Put the default handler back, if tmt's is the one installed."""
    try:
        if _sig.getsignal(_sig.SIGTERM) is on_sigterm:
            _sig.signal(_sig.SIGTERM, _sig.SIG_DFL)
    except (ValueError, OSError):
        pass
