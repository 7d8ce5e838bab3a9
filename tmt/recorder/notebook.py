"""Runs recorded from a Jupyter kernel (or any IPython shell): the notebook's path when it can
be known, and the cells the kernel executed, since the .ipynb on disk may be unsaved.

The path, first found wins: TMT_NOTEBOOK (the user says), VS Code's `__vsc_ipynb_file__`,
Jupyter's JPY_SESSION_NAME and IPython's `__session__` (the same value, seen from the
kernel's namespace). It is recorded as `env.notebook` (relative to the code root when inside
it) and names the run when no name was given. The cells are IPython's input history, saved as
the artifact `notebook_cells`: a `.py` file in the percent format (`# %% In[3]`) that VS Code,
Jupytext and Spyder open as cells.
"""
from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any

ENV_NOTEBOOK = "TMT_NOTEBOOK"
CELLS_ARTIFACT = "notebook_cells"
#: The name of a run started in a notebook whose path cannot be known.
UNKNOWN_NAME = "notebook"


def shell() -> Any:
    """The IPython shell this process runs, or None. Only a process that imported IPython can
    be a kernel: nothing is imported here."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    if get is None:
        return None
    try:
        return get()
    except Exception:  # noqa: BLE001 - a half-imported IPython: not a shell
        return None


def notebook_path(ip: Any) -> str | None:
    """The notebook's absolute path, when the kernel can know it."""
    ns = getattr(ip, "user_ns", None) or {}
    candidates = [
        (os.environ.get(ENV_NOTEBOOK), False),
        (ns.get("__vsc_ipynb_file__"), False),
        (os.environ.get("JPY_SESSION_NAME"), True),
        (ns.get("__session__"), True),
    ]
    for value, from_session in candidates:
        if not isinstance(value, str) or not value.strip():
            continue
        path = os.path.abspath(os.path.expanduser(value))
        # A Jupyter session names a console or a terminal too: only a notebook file counts.
        if from_session and not (value.endswith(".ipynb") or os.path.isfile(path)):
            continue
        return path
    return None


def default_name() -> str | None:
    """The run name for a run started without one in a notebook: its file's stem, or
    "notebook"; None outside IPython."""
    ip = shell()
    if ip is None:
        return None
    path = notebook_path(ip)
    stem = os.path.splitext(os.path.basename(path))[0] if path else ""
    return stem or UNKNOWN_NAME


def executed_cells(ip: Any) -> list[str]:
    """The cells the kernel executed, in order (the current one included)."""
    history = getattr(getattr(ip, "history_manager", None), "input_hist_raw", None)
    if history is None:
        history = ip.user_ns.get("In", []) if hasattr(ip, "user_ns") else []
    return [cell if isinstance(cell, str) else str(cell) for cell in list(history)[1:]]  # [0] is ""


def cells_text(cells: list[str], path: str | None) -> str:
    lines = [f"# The cells the kernel executed, in order, when the run started (notebook: {path or 'unknown'})"]
    for n, cell in enumerate(cells, 1):
        lines.append(f"\n# %% In[{n}]\n{cell.rstrip()}")
    return "\n".join(lines) + "\n"


def record_notebook(run: Any) -> None:
    """Called as a run starts in an IPython shell: `env.notebook` and `notebook_cells`."""
    ip = shell()
    if ip is None:
        return
    try:
        path = notebook_path(ip)
        if path is not None and run.record is not None:
            from tmt.recorder.env import relative_to_root

            run.record.env["notebook"] = relative_to_root(path, run.repo.root, run.repo.tmt_dir.parent)
        text = cells_text(executed_cells(ip), path)

        def write(_obj: Any, target: str) -> None:
            with open(target, "w", encoding="utf-8") as f:
                f.write(text)

        run.save(None, CELLS_ARTIFACT, allow_exist=True, custom_save=write, extension=".py")
    except Exception as e:  # noqa: BLE001 - the cells are a help; the run goes on without them
        from tmt._warn import warn

        warn(f"could not save the notebook's cells in run {run.name!r}: {getattr(e, 'message', e)}")
