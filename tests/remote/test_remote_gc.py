"""Remote gc never deletes what a concurrent push relies on: the two interleavings that could
lose an object, replayed exactly on an in-memory remote, then real `tmt gc --remote` loops
beside real pushes on SeaweedFS."""
from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

import tmt
from tmt.errors import LockedError, RemoteError
from tmt.remote import layout
from tmt.remote.memory import _BUCKETS, MemoryBackend

from remote_helpers import make_project, record, store_files, tmt_cmd

# A real S3 server and racing processes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow


class HookedBackend(MemoryBackend):
    """A real in-memory remote whose record writes can be held (a push paused right before
    its records) or refused (a push killed there); deletes can be forbidden (keys without
    delete permission)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.hold = threading.Event()
        self.held = threading.Event()
        self.fail_records = False
        self.pause_records = False
        self.deletes_allowed = True

    def put_create(self, key, data):
        if key.startswith(layout.RECORDS):
            if self.fail_records:
                raise RemoteError("connection lost")
            if self.pause_records:
                self.held.set()
                assert self.hold.wait(60)
        return super().put_create(key, data)

    def delete_many(self, keys):
        keys = list(keys)
        if keys and not self.deletes_allowed:
            raise RemoteError("AccessDenied: this key may not delete")
        return super().delete_many(keys)

    def age_everything(self, seconds: float = 7200) -> None:
        for key in list(self._objects):
            self.set_mtime(key, time.time() - seconds)


@pytest.fixture
def remote(tmp_path):
    url = f"memory://gc-{uuid.uuid4().hex[:8]}"
    backend = _BUCKETS[url] = HookedBackend(url)
    yield url, backend
    _BUCKETS.pop(url, None)


def _orphans(project: Path, url: str, backend: HookedBackend) -> None:
    """A push killed right before its records: objects on the remote, no record, its lease
    long expired."""
    backend.fail_records = True
    with pytest.raises(RemoteError):
        tmt.push(repo=project)
    backend.fail_records = False
    backend.age_everything(seconds=2 * 24 * 3600)


def _objects(backend: MemoryBackend) -> set[str]:
    return {layout.oid_of(i.key) for i in backend.list(layout.OBJECTS)} - {None}


def test_a_push_adopting_an_old_orphan_tree_while_gc_collects_it(tmp_path, remote):
    url, backend = remote
    a = make_project(tmp_path / "a")
    rid = record(a)
    tmt.remote.add("origin", url, repo=a)
    _orphans(a, url, backend)
    orphans = _objects(backend)
    # The push finds the code tree present (an orphan) and relies on it; it is paused right
    # before writing its record while gc collects everything no record references.
    backend.pause_records = True
    pusher = threading.Thread(target=lambda: tmt.push(repo=a))
    pusher.start()
    assert backend.held.wait(60)
    first = tmt.remote.gc("origin", repo=a, grace=0)
    assert first.objects_set_aside == len(orphans) and first.objects_deleted == 0
    assert first.collections_waiting == 1 and first.pushes_waited_for == 1
    assert _objects(backend) == set()  # all set aside (fossils), none deleted
    backend.hold.set()
    pusher.join(60)
    # The record names objects that are set aside: readers still find them.
    b = make_project(tmp_path / "b")
    tmt.init(b)
    tmt.remote.add("origin", url, repo=b)
    assert tmt.pull(repo=b).runs_pulled == [rid]
    assert [p.kind for p in tmt.fsck(b).problems if p.kind != "dangling_object"] == []
    assert tmt.remote.fsck("origin", repo=a).errors == []
    # The next gc sees the push ended: it puts back what the record needs, deletes the rest.
    second = tmt.remote.gc("origin", repo=a, grace=0)
    assert second.collections_swept == 1 and second.objects_restored == len(orphans)
    assert _objects(backend) == orphans
    assert list(backend.list(layout.FOSSILS)) == [] and list(backend.list(layout.GC)) == []
    assert tmt.remote.fsck("origin", repo=a).problems == []


def test_a_push_that_starts_after_a_collection_uploads_again(tmp_path, remote):
    url, backend = remote
    a = make_project(tmp_path / "a")
    rid = record(a)
    tmt.remote.add("origin", url, repo=a)
    _orphans(a, url, backend)
    orphans = _objects(backend)
    # Another machine's push is running: the collection must wait for it.
    backend.put_create(layout.lease_key("00000000000000000001" + "ab" * 4), b"{}")
    first = tmt.remote.gc("origin", repo=a, grace=0)
    assert first.objects_set_aside == len(orphans) and first.collections_waiting == 1
    # A push now treats every set-aside object as absent: it sends them again.
    pushed = tmt.push(repo=a)
    assert pushed.runs_pushed == [rid] and pushed.objects_uploaded == len(orphans)
    assert _objects(backend) == orphans
    backend.put_create(layout.lease_done_key("00000000000000000001" + "ab" * 4), b"{}")  # that push ends
    second = tmt.remote.gc("origin", repo=a, grace=0)
    assert second.collections_swept == 1 and second.objects_deleted == 0
    assert _objects(backend) == orphans and list(backend.list(layout.FOSSILS)) == []
    assert tmt.remote.fsck("origin", repo=a).problems == []


def test_garbage_goes_trees_first_and_young_objects_stay(tmp_path, remote):
    url, backend = remote
    a = make_project(tmp_path / "a")
    record(a)
    tmt.remote.add("origin", url, repo=a)
    _orphans(a, url, backend)
    young = tmt.remote.gc("origin", repo=a, grace="365d")
    assert young.objects_young == len(_objects(backend)) and young.objects_deleted == 0
    order: list[str] = []
    real_delete = backend.delete_many
    backend.delete_many = lambda keys: (order.extend(k for k in keys if k.startswith("objects/")), real_delete(keys))[1]
    dry = tmt.remote.gc("origin", repo=a, grace=0, dry_run=True)
    assert dry.objects_deleted == len(_objects(backend)) and order == []
    n = len(_objects(backend))
    done = tmt.remote.gc("origin", repo=a, grace=0)
    assert done.objects_deleted == n and done.collections_swept == 1 and _objects(backend) == set()
    # Every tree left objects/ before any blob it names.
    store = tmt.Repo(a / ".tmt").store
    from tmt.maintenance.reach import TREE_MAGIC

    kinds = ["tree" if store.get(layout.oid_of(k))[:2] == TREE_MAGIC else "blob" for k in order]
    assert kinds == sorted(kinds, key=lambda k: k != "tree")
    assert list(backend.list(layout.LEASES)) == []  # the killed push's expired lease is gone


def test_push_and_pull_never_delete(tmp_path, remote):
    url, backend = remote
    backend.deletes_allowed = False
    a = make_project(tmp_path / "a")
    rid = record(a)
    tmt.remote.add("origin", url, repo=a)
    assert tmt.push(repo=a).runs_pushed == [rid]
    record(a, "second", 1)
    assert len(tmt.push(repo=a).runs_pushed) == 1
    c = tmt.clone(url, tmp_path / "c")
    assert len(c.pull.runs_pulled) == 2
    with pytest.raises(RemoteError) as e:
        tmt.remote.gc("origin", repo=a, grace=0)
    assert "may not delete" in e.value.message


def test_one_remote_gc_at_a_time(tmp_path, remote):
    url, backend = remote
    a = make_project(tmp_path / "a")
    record(a)
    tmt.remote.add("origin", url, repo=a)
    tmt.push(repo=a)
    backend.put_create(layout.GC_LOCK, json.dumps({"host": "node7", "pid": 99}).encode())
    with pytest.raises(LockedError) as e:
        tmt.remote.gc("origin", repo=a)
    assert e.value.message.startswith(f"another `tmt gc --remote` is running on {url} (from node7 (pid 99), for ")
    assert e.value.hint == "wait for it to finish; a killed gc's lock is ignored after 6 hours"
    backend.set_mtime(layout.GC_LOCK, time.time() - 7 * 3600)  # a killed gc's lock
    assert tmt.remote.gc("origin", repo=a).objects_deleted == 0
    assert backend.head(layout.GC_LOCK) is None


@pytest.mark.slow
def test_real_gc_loops_beside_real_pushes(tmp_path, seaweed, s3_url):
    """`tmt gc --remote --grace 0` in a loop while another machine pushes run after run
    (some relying on orphans a killed push left): nothing any run needs is ever lost."""
    import os
    import random
    import signal
    import subprocess
    import sys

    a = make_project(tmp_path / "a")
    tmt.init(a)
    tmt.remote.add("origin", s3_url, endpoint_url=seaweed.endpoint, repo=a)
    rng = random.Random(7)
    for i in range(40):
        (a / "src" / f"f{i}.py").parent.mkdir(exist_ok=True)
        (a / "src" / f"f{i}.py").write_bytes(rng.randbytes(3000))
    record(a, "first", 0)
    p = subprocess.Popen([sys.executable, "-c", "from tmt.cli import main; main()", "push"], cwd=a,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    os.kill(p.pid, signal.SIGKILL)  # leaves orphans, maybe
    p.wait()
    gcs = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom tmt.cli import main\n"
                            "import subprocess\nend = time.time() + 600\n"
                            "while time.time() < end:\n"
                            "    r = subprocess.run([sys.executable, '-c', 'from tmt.cli import main; main()', 'gc', "
                            "'--remote', 'origin', '--grace', '0'], capture_output=True, text=True)\n"
                            "    if r.returncode not in (0, 1) or (r.returncode == 1 and 'another' not in r.stderr):\n"
                            "        print(r.stdout, r.stderr); sys.exit(3)\n"
                            "    if open('stop').read() == 'stop': break\n"],
                           cwd=a, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    (a / "stop").write_text("")
    try:
        for i in range(1, 7):
            (a / "src" / f"f{i}.py").write_text(f"changed = {i}\n")
            record(a, "run", i)
            tmt_cmd("push", cwd=a)
    finally:
        (a / "stop").write_text("stop")
        out, _ = gcs.communicate(timeout=300)
    assert gcs.returncode == 0, out
    tmt_cmd("gc", "--remote", "origin", "--grace", "0", cwd=a)
    assert tmt.remote.fsck("origin", repo=a).errors == []
    c = tmt.clone(s3_url, tmp_path / "c", endpoint_url=seaweed.endpoint)
    assert len(c.pull.runs_pulled) == 7 and c.pull.failed == []
    assert [p.kind for p in tmt.fsck(tmp_path / "c").problems if p.kind != "dangling_object"] == []
    sa, sc = store_files(a / ".tmt"), store_files(tmp_path / "c" / ".tmt")
    assert all(sa[k] == v for k, v in sc.items())
