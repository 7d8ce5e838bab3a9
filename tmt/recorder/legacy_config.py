"""The store a run records into, and the predecessor's `config_path` (a tmt 0.1 JSON config)
that code written for it still passes to the decorator."""
from __future__ import annotations

import os
from pathlib import Path

from tmt._warn import warn

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from tmt.repo import Repo


def open_repo(config_path: str | os.PathLike[str] | None) -> Repo:
    """The store found from the working directory (made if there is none); a legacy config's
    `snapshot_source` becomes its code root."""
    from tmt.repo import Repo

    repo = Repo.find_or_create()
    if config_path is None:
        return repo
    root = legacy_code_root(config_path)
    if root is not None and root != repo.root:
        return Repo(repo.tmt_dir, code_root=root)
    return repo


def legacy_code_root(config_path: str | os.PathLike[str]) -> Path | None:
    """The predecessor's JSON config: only `snapshot_source` (the folder to snapshot) maps
    onto tmt; it becomes the code root. Everything else is ignored, with one warning."""
    import json

    path = Path(config_path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        warn(f"config_path {os.fspath(config_path)} could not be read ({e}); it is ignored")
        return None
    if not isinstance(data, dict):
        warn(f"config_path {os.fspath(config_path)} is not a tmt 0.1 JSON config; it is ignored")
        return None
    ignored = sorted(k for k in data if k != "snapshot_source")
    if ignored:
        warn(
            f"config_path {os.fspath(config_path)} is a tmt 0.1 config; tmt now keeps everything in "
            f"the .tmt/ store and ignores {', '.join(ignored)} (see docs/recording.md)"
        )
    source = data.get("snapshot_source")
    if not isinstance(source, str) or not source:
        return None
    root = Path(source).expanduser()
    if not root.is_absolute():
        root = Path.cwd() / root  # the predecessor resolved it against the working directory
    root = Path(os.path.abspath(root))
    if not root.is_dir():
        warn(f"snapshot_source {source!r} in {os.fspath(config_path)} is not a folder; it is ignored")
        return None
    return root
