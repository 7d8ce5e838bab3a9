"""gc --grace 0 racing real writer processes never removes an object a record references.

Writers follow the recording protocol (pin, write objects, write the record, unpin) in a
loop, re-adding shared content that an earlier run dropped (dedup: the object may be old,
unreferenced and about to be deleted) and deleting some of their own records, so gc always
has garbage to collect. One writer records through the public API (tmt.start_run, log,
save). gc runs a fixed number of times meanwhile; then fsck must find nothing missing.
"""
from __future__ import annotations

import importlib
import subprocess
import textwrap

import pytest

from tmt.maintenance import fsck, gc
from tmt.records.io import write_record
from tmt.records.model import Record, new_run_id
from tmt.snapshot.tree import TreeEntry, encode_tree
from tmt.store.ids import hash_bytes
from tmt.store.pins import PinFile

gcmod = importlib.import_module("tmt.maintenance.gc")

RAW_WRITER = textwrap.dedent('''
    import os, sys
    from tmt.repo import Repo
    from tmt.records.io import write_record, delete_record
    from tmt.records.model import Record, new_run_id
    from tmt.snapshot.tree import TreeEntry, encode_tree
    from tmt.store.ids import hash_bytes
    from tmt.store.pins import PinFile

    repo = Repo(sys.argv[1]); stop = sys.argv[2]; me = int(sys.argv[3])
    shared = [b"shared blob %d" % i for i in range(12)]
    mine = []
    i = 0
    while not os.path.exists(stop):
        pin = PinFile(repo.tmt_dir)
        entries = []
        blobs = [shared[(i + k) % len(shared)] for k in range(3)] + [os.urandom(24)]
        for j, data in enumerate(blobs):
            oid = hash_bytes(data)
            pin.add([oid])              # pin first, then check/write
            repo.store.put(data, oid)
            entries.append(TreeEntry(b"f%d" % j, "f", oid, len(data)))
        sub = encode_tree(entries[:2]); sub_id = hash_bytes(sub)
        pin.add([sub_id]); repo.store.put(sub, sub_id)
        top = encode_tree(entries[2:] + [TreeEntry(b"sub", "d", sub_id, 0)]); top_id = hash_bytes(top)
        pin.add([top_id]); repo.store.put(top, top_id)
        art = b"artifact %d" % (i % 5); art_id = hash_bytes(art)
        pin.add([art_id]); repo.store.put(art, art_id)
        rec = Record(id=new_run_id(), name="raw%d" % me, status="completed",
                     created_at="2026-01-01T00:00:00+00:00", code={"root": ".", "tree": top_id},
                     artifacts=[{"name": "a", "object": art_id, "size": len(art)}])
        write_record(repo.experiments_dir, repo.tmp_dir, rec)
        pin.close()
        mine.append(rec.id)
        if i % 2 == 1:                  # like `tmt rm`: its objects become garbage
            delete_record(repo.experiments_dir, mine.pop(0))
        if i == 0:
            print("ready", flush=True)
        i += 1
    print(i, flush=True)
''')

API_WRITER = textwrap.dedent('''
    import os, sys
    import tmt
    from tmt.records.io import delete_record
    stop = sys.argv[2]
    i = 0
    ids = []
    while not os.path.exists(stop):
        with open("code.py", "w") as f:
            f.write("x = %d\\n" % (i % 4))
        with tmt.start_run("api") as run:
            run.log({"loss": 1.0 / (i + 1)}, step=0)
            run.save(b"same model bytes" * (i % 3), "model")  # equal pickles: dedup
        ids.append(run.record.id)
        if i % 2 == 1:
            delete_record(tmt.Repo.find().experiments_dir, ids.pop(0))
        if i == 0:
            print("ready", flush=True)
        i += 1
    print(i, flush=True)
''')


@pytest.mark.slow
def test_gc_racing_writers_loses_nothing(repo, python, tmp_path):
    (repo.root / "code.py").write_text("x = 0\n")
    stop = tmp_path / "stop"
    procs = [
        subprocess.Popen([python, "-c", RAW_WRITER, str(repo.tmt_dir), str(stop), str(n)],
                         cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    procs.append(subprocess.Popen([python, "-c", API_WRITER, str(repo.tmt_dir), str(stop)],
                                  cwd=repo.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        deleted = restored = 0
        for _ in range(25):
            r = gc(repo, grace=0)
            deleted += r.objects_deleted
            restored += r.objects_restored
            # every record on disk now has all its objects (records only ever appear after
            # their objects, and gc must never take one away)
            check = fsck(repo)
            assert not check.by_kind("missing_object"), check.by_kind("missing_object")[:3]
    finally:
        stop.touch()
        outs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert int(out.split()[-1]) >= 1
    assert deleted > 0  # the race had garbage to collect
    gc(repo, grace=0)
    final = fsck(repo)
    assert final.ok, [p.message for p in final.remaining][:5]
    assert not final.by_kind("dangling_object")


@pytest.mark.parametrize("released_after", ["records", "pins"])
def test_writer_publishing_and_unpinning_during_the_second_mark_loses_nothing(repo, monkeypatch, released_after):
    """The interleaving the loop above can only hit by chance, made to happen every time.

    A writer re-uses an old unreferenced tree (dedup): it pins it and finds it present just
    before gc moves it aside; then, while gc marks again, it publishes its record and drops
    its pin, right after gc's read of the records (or of the pins). gc must see the pin or
    the record, whichever it reads second, and put the tree back.
    """
    blob = repo.store.put(b"shared content")
    old = repo.store.put(encode_tree([TreeEntry(b"f", "f", blob, 14)]))  # its record was deleted
    pin = PinFile(repo.tmt_dir)
    rec = Record(id=new_run_id(), name="w", status="completed", created_at="2026-01-01T00:00:00+00:00")
    real_scan, real_load, real_pins = gcmod._Gc._scan, gcmod._Gc._load_records, gcmod._Gc._live_pins
    state = {"armed": False, "released": False}

    def scan(self, marker):  # after the first mark, before the move: pin, find, write the top
        out = real_scan(self, marker)
        assert old in {oid for oid, _ in out}
        pin.add([blob, old])
        assert repo.store.has(old) and repo.store.has(blob)
        top = encode_tree([TreeEntry(b"lib", "d", old, 0)])
        pin.add([hash_bytes(top)])
        rec.code = {"root": ".", "tree": repo.store.put(top)}
        state["armed"] = True
        return out

    def release(what):
        if state["armed"] and not state["released"] and what == released_after:
            write_record(repo.experiments_dir, repo.tmp_dir, rec)
            pin.close()
            state["released"] = True

    def load(self, first):
        out = real_load(self, first)
        release("records")
        return out

    def pins(self, first):
        out = real_pins(self, first)
        release("pins")
        return out

    monkeypatch.setattr(gcmod._Gc, "_scan", scan)
    monkeypatch.setattr(gcmod._Gc, "_load_records", load)
    monkeypatch.setattr(gcmod._Gc, "_live_pins", pins)
    r = gc(repo, grace=0)
    assert state["released"] and r.objects_restored == 2
    assert repo.store.get(old, verify=True) and repo.store.has(blob)
    check = fsck(repo)
    assert check.ok, [p.message for p in check.remaining]


def test_tree_pinned_before_it_is_written_is_walked_when_a_record_needs_it(repo, monkeypatch):
    """A snapshot pins its new trees, then its new blobs, then publishes them all. A first
    mark that reads the pin in between marks the tree (not written yet: it cannot be read)
    as a plain id, and does not see the blob, which is published before the scan and moved
    aside. When the run has ended before the second mark (record published, pin dropped),
    only its record reaches the tree, and gc must walk it then to keep the blob."""
    data = b"a file the run added"
    blob = hash_bytes(data)
    tree = encode_tree([TreeEntry(b"new.py", "f", blob, len(data))])
    tree_id = hash_bytes(tree)
    pin = PinFile(repo.tmt_dir)
    pin.add([tree_id])  # read by the first mark: the tree does not exist yet
    rec = Record(id=new_run_id(), name="w", status="completed", created_at="2026-01-01T00:00:00+00:00",
                 code={"root": ".", "tree": tree_id})
    real_scan, real_pins = gcmod._Gc._scan, gcmod._Gc._live_pins

    def scan(self, marker):  # after the first mark: the blob is pinned, both are published
        pin.add([blob])
        repo.store.put(data)
        repo.store.put(tree)
        return real_scan(self, marker)

    def pins(self, first):
        if not first:  # the run ended before the second mark
            write_record(repo.experiments_dir, repo.tmp_dir, rec)
            pin.close()
        return real_pins(self, first)

    monkeypatch.setattr(gcmod._Gc, "_scan", scan)
    monkeypatch.setattr(gcmod._Gc, "_live_pins", pins)
    r = gc(repo, grace=0)
    assert (r.objects_restored, r.objects_deleted) == (1, 0)  # the blob was moved aside, then back
    assert repo.store.get(blob, verify=True) == data
    check = fsck(repo)
    assert check.ok, [p.message for p in check.remaining]
