"""tmt clone: a new project folder whose store is filled from a remote (added as `origin`).

The remote is checked before anything is created, and a clone that fails removes the folder
it created, so a failed clone leaves nothing behind. `lazy=True` pulls the records only and
marks the store lazy: objects then come from `origin` when a command reads them.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from tmt.errors import RemoteError, UsageError
from tmt.remote import config
from tmt.remote.pull import PullResult, pull
from tmt.remote.remote import Progress, Remote
from tmt.repo import TMT_DIRNAME, Repo
from tmt.text import printable

ORIGIN = "origin"


@dataclass(slots=True)
class CloneResult:
    path: str
    url: str
    lazy: bool
    pull: PullResult
    duration_s: float = 0.0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["pull"] = self.pull.to_dict()
        return d


def default_dir(url: str) -> str:
    """The folder a clone goes to: the last part of the URL (s3://bucket/team/proj -> proj)."""
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    return tail or "tmt-clone"


def clone(
    url: str,
    directory: str | os.PathLike[str] | None = None,
    *,
    lazy: bool = False,
    endpoint_url: str | None = None,
    profile: str | None = None,
    region: str | None = None,
    progress: Progress | None = None,
) -> CloneResult:
    t0 = time.monotonic()
    url = config.normalize_url(url)
    spec = config.RemoteSpec(ORIGIN, url, config.check_endpoint(endpoint_url), profile or None, region or None)
    target = Path(directory if directory is not None else default_dir(url)).absolute()
    if (target / TMT_DIRNAME).exists():
        raise UsageError(f"{target} already holds a tmt store", "pull into it instead: tmt pull")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty folder", "choose a new folder: tmt clone URL DIR")
    with Remote.open(spec) as rem:
        if not rem.check(create=False):
            raise RemoteError(
                f"{printable(rem.url)} holds no tmt remote (nothing was pushed there yet)",
                "check the URL (and --endpoint-url), or push to it first: tmt remote add origin URL && tmt push",
            )
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        repo = Repo.init(target)
        config.add(repo, spec)
        if lazy:
            config.set_lazy(repo, ORIGIN)
        result = pull(ORIGIN, repo=repo, records_only=lazy, progress=progress)
    except BaseException:
        if created:
            shutil.rmtree(target, ignore_errors=True)
        else:
            shutil.rmtree(target / TMT_DIRNAME, ignore_errors=True)
        raise
    return CloneResult(os.fspath(target), url, lazy, result, time.monotonic() - t0)
