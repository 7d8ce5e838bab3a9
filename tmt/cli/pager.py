"""Long output through a pager on a terminal, as git does (`tmt show`, `tmt diff`).

Which pager: `TMT_PAGER`, else `PAGER`, else `less -FRX` (quit if it fits one screen, keep
colours, leave the text on the screen) when TERM names a real terminal. An empty value or
`cat` means none; so do `--no-pager` and a stdout that is not a terminal. Like git, the pager runs through the
shell (so `PAGER='less -S'` works), `LESS=FRX` and `LV=-c` are set unless the user set them,
and stdout itself (file descriptor 1) is pointed at the pager's stdin for the duration,
so every write (click, rich) goes there. The output keeps the terminal's look: colours
and the terminal's width (`tmt.cli.output` is told, since stdout is a pipe meanwhile).

Quitting the pager before the end is normal: the writes that follow fail with a broken
pipe, which ends the command quietly with status 0.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

DEFAULT_PAGER = "less -FRX"


def pager_command() -> str | None:
    """The pager to run, or None for none."""
    for var in ("TMT_PAGER", "PAGER"):
        if var in os.environ:
            cmd = os.environ[var].strip()
            return None if cmd in ("", "cat") else cmd
    if os.environ.get("TERM", "dumb") == "dumb":
        return None  # less would stop to warn that the terminal is not fully functional
    return DEFAULT_PAGER if shutil.which("less") else None


def _stdout_is_terminal() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


@contextmanager
def paged(enabled: bool = True) -> Iterator[None]:
    """Inside, stdout goes through the pager (when there is one and stdout is a terminal)."""
    from tmt.cli import output

    cmd = pager_command() if enabled and _stdout_is_terminal() else None
    if cmd is None:
        yield
        return
    out = output.Output.detect()  # the terminal's look, taken before stdout becomes a pipe
    env = dict(os.environ)
    env.setdefault("LESS", "FRX")
    env.setdefault("LV", "-c")
    try:
        sys.stdout.flush()
        proc = subprocess.Popen(cmd, shell=True, stdin=subprocess.PIPE, env=env)
    except OSError:
        yield  # no shell to run it: print directly
        return
    pipe = proc.stdin
    assert pipe is not None  # stdin=PIPE
    saved = os.dup(1)
    os.dup2(pipe.fileno(), 1)
    pipe.close()  # fd 1 holds the pipe now; the pager sees EOF when it is restored
    output.PAGING = (out.width, out.color)
    try:
        try:
            yield
            sys.stdout.flush()
        except BrokenPipeError:
            pass  # the user quit the pager early
    finally:
        output.PAGING = None
        _restore_stdout(saved)
        _wait(proc)


def _restore_stdout(saved: int) -> None:
    try:
        sys.stdout.flush()
    except (BrokenPipeError, ValueError):
        # The pager is gone: what is still buffered must not spill onto the terminal.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            pass
    os.dup2(saved, 1)
    os.close(saved)


def _wait(proc: subprocess.Popen) -> None:
    """Wait for the pager (the user reads at their pace); Ctrl-C goes to the pager too."""
    while True:
        try:
            proc.wait()
            return
        except KeyboardInterrupt:
            continue
