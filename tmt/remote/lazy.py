"""A lazy clone's fetch-on-miss: an object a command needs and the store lacks is fetched
from the clone's remote (`tmt clone --lazy`, `.tmt/lazy-remote` names it).

A missing tree comes with its whole subtree (blobs first, trees bottom-up, as `tmt pull`
writes them), so "a present tree implies its whole subtree" holds in a lazy clone too, and
a checkout or diff that reads a tree finds every file it then needs. Everything fetched is
re-hashed before it is published. One Remote per process, opened on first miss.
"""
from __future__ import annotations

import threading

from tmt.errors import RemoteError, TmtError
from tmt.maintenance.reach import TREE_MAGIC
from tmt.remote import layout
from tmt.remote.backend import RemoteNotFound
from tmt.remote.pull import STREAM_ABOVE

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from tmt.remote.remote import Remote

_lock = threading.Lock()
_open: dict[str, Remote] = {}  # by url: one connection per remote and process


def fetch_missing(store, oid: str) -> bool:
    """Fetch `oid` into `store` (an ObjectStore of a lazy clone); False when the clone's
    remote does not have it either."""
    from tmt.remote import config
    from tmt.remote.local import LocalStore
    from tmt.remote.pull import fetch_objects
    from tmt.remote.remote import Remote
    from tmt.repo import Repo
    from tmt.store.ids import ObjectId

    repo = Repo(store.tmt_dir)
    name = config.lazy_remote(repo)
    if name is None:
        return False
    try:
        spec = config.get(repo, name)
        with _lock:
            rem = _open.get(spec.url)
            if rem is None:
                rem = _open[spec.url] = Remote.open(spec)
        from tmt.progress import StderrProgress

        with LocalStore(repo) as local, StderrProgress() as progress:  # a bar on a terminal, after 1 s
            info = rem.head(layout.object_key(oid))
            if info is not None and info.size > STREAM_ABOVE:  # a large artifact: streamed
                fetch_objects(rem, local, [], progress, None, roots=([], {oid: info.size}))
                return local.has(oid)
            try:
                data = rem.get_object(oid)  # re-hashed
            except RemoteNotFound:
                rem.check(create=False)  # a remote that is gone says so
                raise RemoteError(
                    f"{rem.url} does not have it either", f"run `tmt fsck --remote {name}` there; push the run "
                    "again from a machine that has it") from None
            if data[:2] == TREE_MAGIC and _decodes(data, oid):
                fetch_objects(rem, local, [], progress, None, roots=([oid], {}))
            else:
                local.pin([oid])
                with local.batch() as batch:
                    batch.add(data, ObjectId(oid))  # the remote's copy hashes to it
            return local.has(oid)
    except TmtError as e:
        raise RemoteError(
            f"object {oid} is not in this lazy clone and could not be fetched from {name}: {e.message}",
            e.hint or f"check the remote with `tmt remote show {name}`",
        ) from None


def _decodes(data: bytes, oid: str) -> bool:
    from tmt.errors import InvalidTree
    from tmt.snapshot.tree import decode_tree

    try:
        decode_tree(data, oid)
        return True
    except InvalidTree:
        return False

