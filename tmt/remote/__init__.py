"""Remotes: tmt stores kept in S3-compatible object storage or a folder, shared by push/pull.

    tmt.remote.add("origin", "s3://bucket/team/proj", endpoint_url=None, profile=None, region=None)
    tmt.remote.ls(); tmt.remote.show("origin"); tmt.remote.rm("origin")
    tmt.push("origin", refs=["last"]); tmt.pull("origin", name="^resnet"); tmt.clone(URL, DIR, lazy=True)
    tmt.remote.gc("origin", grace="1h"); tmt.remote.fsck("origin")

Layout and protocols: docs/format.md ("Remote layout"); for users: docs/remotes.md. The
S3 client (obstore, the `[s3]` extra) is imported by S3 remotes only.
"""
from __future__ import annotations

import os
import sys
import types

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from tmt.repo import Repo

_NAMES = {
    "push": "tmt.remote.push", "PushResult": "tmt.remote.push",
    "pull": "tmt.remote.pull", "PullResult": "tmt.remote.pull",
    "clone": "tmt.remote.clone", "CloneResult": "tmt.remote.clone",
    "gc": "tmt.remote.gc", "RemoteGcResult": "tmt.remote.gc",
    "fsck": "tmt.remote.fsck", "RemoteFsckResult": "tmt.remote.fsck",
    "RemoteSpec": "tmt.remote.config",
}

__all__ = ["add", "ls", "rm", "show", *_NAMES]


class _Package(types.ModuleType):
    """`push`, `pull`, `clone`, `gc` and `fsck` name both submodules and the functions in
    them; importing a submodule sets its name on the package, so here these names always
    mean the functions (as tmt.maintenance does). Reach the modules through importlib."""

    def __getattribute__(self, name: str) -> object:
        module = _NAMES.get(name)
        if module is None:
            return super().__getattribute__(name)
        import importlib

        return getattr(importlib.import_module(module), name)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *__all__})


def add(name: str, url: str, *, endpoint_url: str | None = None, profile: str | None = None,
        region: str | None = None, repo: "Repo | str | os.PathLike[str] | None" = None):
    """Add a remote (no network access: `show` checks it). The first remote is the default.
    Without a store here yet, one is created (as recording would), so that a new machine can
    `tmt remote add` then `tmt pull`."""
    from tmt.remote import config
    from tmt.repo import Repo

    r = Repo.resolve(repo) if repo is not None else Repo.find_or_create()
    return config.add(r, config.RemoteSpec(name, url, endpoint_url, profile, region))


def ls(repo: "Repo | str | os.PathLike[str] | None" = None):
    """Every remote of the repository, the default first."""
    from tmt.remote import config
    from tmt.repo import Repo

    return config.load(Repo.resolve(repo))


def rm(name: str, repo: "Repo | str | os.PathLike[str] | None" = None):
    """Forget a remote (nothing on the remote is touched)."""
    from tmt.remote import config
    from tmt.repo import Repo

    return config.remove(Repo.resolve(repo), name)


def show(name: str | None = None, repo: "Repo | str | os.PathLike[str] | None" = None) -> dict:
    """A remote's settings, and what it holds (contacts it: one listing of its records)."""
    from tmt.remote import config
    from tmt.remote.remote import Remote
    from tmt.repo import Repo

    r = Repo.resolve(repo)
    spec = config.get(r, name)
    out = spec.to_dict()
    out["default"] = config.load(r)[0].name == spec.name
    out["lazy"] = config.lazy_remote(r) == spec.name
    with Remote.open(spec) as rem:
        backend = rem.backend
        if spec.url.startswith("s3://"):
            from tmt.remote.s3 import S3Backend  # (imported by Remote.open already)

            assert isinstance(backend, S3Backend)  # what open_backend makes of an s3:// url
            out["endpoint"] = backend.endpoint
            out["credentials"] = backend.settings.source
            out["region"] = backend.settings.region
        versions = rem.record_versions()
        out["initialized"] = bool(versions) or rem.check(create=False)
        out["runs"] = len(versions)
        out["record_versions"] = sum(len(v) for v in versions.values())
        out["pending_gcs"] = len(rem.pending_gcs())
    return out


sys.modules[__name__].__class__ = _Package
