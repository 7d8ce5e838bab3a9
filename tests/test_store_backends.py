"""The storage interface's conformance suite (tmt/store/backend.py): every backend runs every
test here (the `backend` fixture), so a new one (a remote store) is added by one more
fixture parameter. Then gc and fsck run on the in-memory backend: they use the interface only."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from blake3 import blake3

from tmt.errors import CorruptObject, InvalidObjectId, ObjectNotFound, StoreError
from tmt.records.io import write_record
from tmt.records.model import Record, new_run_id
from tmt.repo import Repo
from tmt.snapshot.tree import FILE, TreeEntry, encode_tree
from tmt.store.backend import ObjectBackend
from tmt.store.ids import hash_bytes
from tmt.store.memory import MemoryStore
from tmt.store.objects import ObjectStore

DATA = b"hello, store\n"
OID = blake3(DATA).hexdigest()
HOUR = 3600.0
NOT_IDS = ["", "../x", "AB" * 32, "ab" * 31, "zz" + "0" * 62]
#: the interface's names, read from the Protocol itself (mypy checks the signatures:
#: tmt/store/objects.py and memory.py end with an assignment to `ObjectBackend`)
INTERFACE = sorted(name for name in vars(ObjectBackend) if not name.startswith("_"))


class Local:
    """The files-on-disk backend, and how a test damages or ages one of its objects."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.store = Repo.init(tmp_path / "project").store

    def bare(self) -> ObjectStore:
        """A store no `tmt init` has prepared: an empty folder."""
        (self.tmp_path / "bare").mkdir()
        return ObjectStore(self.tmp_path / "bare")

    def leftovers(self) -> list[str]:
        """Every file a write left in the store: objects, fan-out folders, temp files."""
        tmt_dir = self.store.tmt_dir
        return sorted(str(p.relative_to(tmt_dir)) for d in ("objects", "tmp") for p in (tmt_dir / d).rglob("*"))

    def corrupt(self, oid: str, data: bytes) -> None:
        path = self.store.local_path(oid)
        os.chmod(path, 0o644)
        Path(path).write_bytes(data)

    def age(self, oid: str, seconds: float) -> None:
        t = time.time() - seconds
        os.utime(self.store.local_path(oid), (t, t))


class Memory:
    def __init__(self, tmp_path: Path) -> None:
        self.store = MemoryStore()

    def bare(self) -> MemoryStore:
        return MemoryStore()

    def leftovers(self) -> list[str]:
        return sorted(self.store.objects)

    def corrupt(self, oid: str, data: bytes) -> None:
        self.store.objects[oid] = (data, self.store.objects[oid][1])

    def age(self, oid: str, seconds: float) -> None:
        data, mtime = self.store.objects[oid]
        self.store.objects[oid] = (data, mtime - seconds)


@pytest.fixture(params=[Local, Memory], ids=["local", "memory"])
def backend(request: pytest.FixtureRequest, tmp_path: Path):
    return request.param(tmp_path)


def test_a_backend_has_every_name_of_the_interface(backend) -> None:
    assert {"has", "get", "put", "batch", "quarantine", "epoch", "lazy", "local_path"} <= set(INTERFACE)
    assert [name for name in INTERFACE if not hasattr(type(backend.store), name)] == []
    assert backend.store.lazy is False  # no lazy clone's: an absent object is absent


def test_a_new_store_is_empty(backend) -> None:
    for store in (backend.store, backend.bare()):
        assert (store.shards(), list(store.ids()), list(store.scan()), list(store.strays())) == ([], [], [], [])
        assert list(store.asides()) == [] and not store.has(OID)
    assert backend.leftovers() == []


def test_a_new_stores_epoch_is_none_until_bumped(backend) -> None:
    store = backend.bare()
    assert store.epoch() is None  # nothing trusted yet: caches check that their objects exist
    token = store.bump_epoch()
    assert isinstance(token, str) and token and store.epoch() == token


def test_put_then_read_it_back_every_way(backend) -> None:
    store = backend.store
    assert store.put(DATA) == OID == hash_bytes(DATA)
    assert store.put(DATA) == OID  # writing it again is harmless
    assert store.has(OID)
    assert store.get(OID) == DATA == store.get(OID, verify=True)
    assert store.head(OID, 5) == DATA[:5] and store.head(OID) == DATA
    with store.open(OID) as f:
        assert f.read() == DATA
    st = store.stat(OID)
    assert st.st_size == len(DATA) and abs(st.st_mtime - time.time()) < HOUR
    assert list(store.ids()) == [OID]


def test_an_absent_object_is_not_found_by_any_read(backend) -> None:
    store, oid = backend.store, "ab" * 32
    assert not store.has(oid)
    for read in (store.get, store.head, store.open, store.stat):
        with pytest.raises(ObjectNotFound):
            read(oid, fetch=False)


@pytest.mark.parametrize("bad", NOT_IDS)
def test_a_string_that_is_not_an_id_is_refused_by_every_call(backend, bad: str) -> None:
    store = backend.store
    for call in (store.has, store.get, store.stat, store.remove, store.local_path, store.quarantine):
        with pytest.raises(InvalidObjectId):
            call(bad)
    with pytest.raises(InvalidObjectId):
        store.put(DATA, bad)
    batch = store.batch()
    with pytest.raises(InvalidObjectId):  # when added, not later at commit
        batch.add(DATA, bad)
    batch.commit()
    trash = store.new_aside()
    for aside_call in (trash.move, trash.has, trash.get, trash.mtime, trash.put_back, trash.delete):
        with pytest.raises(InvalidObjectId):
            aside_call(bad)
    with pytest.raises(InvalidObjectId):
        trash.head(bad, 1)
    trash.close()
    assert backend.leftovers() == [] and list(store.asides()) == []


def test_a_failed_write_leaves_nothing_behind(backend, tmp_path: Path) -> None:
    store = backend.store
    folder = tmp_path / "a-folder"
    folder.mkdir()
    unreadable = ["/proc/self/mem"] if os.path.exists("/proc/self/mem") else []  # fails mid-read: EIO
    for path in [tmp_path / "absent.bin", folder, *unreadable]:
        with pytest.raises(StoreError) as e:
            store.put_file(path)
        assert e.value.message.startswith(f"could not store {path}: ")
    with pytest.raises(InvalidObjectId):
        with store.batch() as b:
            b.add(DATA)  # written to a temp file, then dropped with the batch
            b.add(b"second", "zz" + "0" * 62)
    assert backend.leftovers() == [] and not store.has(OID)


def test_limit_refuses_a_longer_object_and_verify_finds_damage(backend) -> None:
    store = backend.store
    store.put(DATA)
    assert store.get(OID, limit=len(DATA)) == DATA
    with pytest.raises(CorruptObject) as e:
        store.get(OID, limit=len(DATA) - 1)
    assert e.value.reason == f"it is larger than {len(DATA) - 1} bytes"
    backend.corrupt(OID, b"bit rot")
    assert store.get(OID) == b"bit rot"  # without verify, bytes as stored
    with pytest.raises(CorruptObject) as e:
        store.get(OID, verify=True)
    assert e.value.reason == "its content does not match its id"


def test_put_file_streams_a_file_in(backend, tmp_path: Path) -> None:
    path = tmp_path / "weights.bin"
    data = os.urandom(3 << 20)
    path.write_bytes(data)
    oid, size = backend.store.put_file(path)
    assert (oid, size) == (hash_bytes(data), len(data))
    assert backend.store.get(oid) == data


def test_a_batch_publishes_nothing_before_commit_and_nothing_on_abort(backend) -> None:
    store = backend.store
    batch = store.batch()
    ids = [batch.add(b"obj %d" % i) for i in range(3)]
    assert not any(store.has(o) for o in ids)
    batch.commit()
    assert all(store.get(o) == b"obj %d" % i for i, o in enumerate(ids))
    with pytest.raises(RuntimeError):
        with store.batch() as b:
            lost = b.add(b"never published")
            raise RuntimeError
    assert not store.has(lost)


def test_listing_by_shard_gives_every_object_with_its_size(backend) -> None:
    store = backend.store
    ids = {store.put(b"x" * n): n for n in range(1, 40)}
    assert set(store.ids()) == set(ids) and list(store.ids()) == sorted(ids)
    assert store.shards() == sorted({o[:2] for o in ids})
    by_shard = [info for shard in store.shards() for info in store.scan(shard)]
    assert {i.oid: i.size for i in by_shard} == ids
    assert {i.oid: i.size for i in store.scan()} == ids
    shard = store.shards()[0]
    assert set(store.ids(shard)) == {o for o in ids if o.startswith(shard)}
    kept = set(list(ids)[:5])
    assert {i.oid: i.size for i in store.scan(skip=kept)} == {o: (None if o in kept else n) for o, n in ids.items()}
    assert list(store.strays()) == []


def test_verify_reads_every_object_back_and_names_damage(backend) -> None:
    store = backend.store
    small, big = store.put(DATA), store.put(b"y" * 5000)
    backend.corrupt(small, b"bit rot")
    got = {v.oid: v for shard in store.shards() for v in store.verify(shard, keep=100)}
    assert set(got) == {small, big}
    assert (got[small].digest, got[small].size, got[small].data) == (hash_bytes(b"bit rot"), 7, b"bit rot")
    assert (got[big].digest, got[big].size, got[big].data, got[big].problem) == (big, 5000, None, None)


def test_writing_an_existing_object_again_makes_it_new_for_gc(backend) -> None:
    store = backend.store
    store.put(DATA)
    backend.age(OID, 2 * HOUR)
    (info,) = store.scan()
    assert time.time() - info.mtime > HOUR
    store.put(DATA)
    assert time.time() - store.stat(OID).st_mtime < HOUR
    backend.age(OID, 2 * HOUR)
    with store.batch() as b:
        b.add(DATA)
    assert time.time() - store.stat(OID).st_mtime < HOUR


def test_remove_and_the_epoch(backend) -> None:
    store = backend.store
    store.put(DATA)
    before = store.epoch()
    token = store.bump_epoch()
    assert store.epoch() == token != before
    store.remove(OID)
    assert not store.has(OID)
    store.remove(OID)  # absent: nothing to do


def test_an_object_set_aside_is_gone_until_put_back(backend) -> None:
    store = backend.store
    store.put(DATA)
    trash = store.new_aside()
    assert [a.name for a in store.asides()] == [trash.name]
    assert trash.move(OID)
    assert not store.has(OID) and trash.has(OID)
    with pytest.raises(ObjectNotFound):
        store.get(OID, fetch=False)
    assert trash.get(OID) == DATA and trash.head(OID, 5) == DATA[:5]
    with pytest.raises(CorruptObject):
        trash.get(OID, limit=3)
    assert trash.mtime(OID) is not None
    assert [(i.oid, i.size) for i in trash.scan()] == [(OID, len(DATA))]
    trash.put_back(OID)
    assert store.get(OID) == DATA and not trash.has(OID)
    assert not trash.move("cd" * 32)  # not in the store
    trash.close()
    assert store.asides() == []


def test_put_back_keeps_a_copy_written_meanwhile_and_delete_ends_an_object(backend) -> None:
    store = backend.store
    store.put(DATA)
    trash = store.new_aside()
    trash.move(OID)
    store.put(DATA)  # a writer found it missing and wrote it again
    trash.put_back(OID)
    assert store.get(OID) == DATA and not trash.has(OID)
    other = store.put(b"garbage")
    trash.move(other)
    assert trash.delete(other) and not trash.delete(other)
    assert trash.mtime(other) is None and not store.has(other)
    trash.close()


def test_a_crashed_gcs_set_aside_is_found_again_and_restored(backend) -> None:
    from tmt.maintenance.gc import restore_trash

    store = backend.store
    ids = [store.put(b"obj %d" % i) for i in range(3)]
    trash = store.new_aside()
    for oid in ids:
        trash.move(oid)
    # the gc dies here: its set is still listed, and goes back
    assert [a.name for a in store.asides()] == [trash.name]
    assert restore_trash(store) == 3
    assert all(store.has(o) for o in ids) and store.asides() == []


def test_quarantine_moves_an_object_out_without_deleting_it(backend) -> None:
    store = backend.store
    store.put(DATA)
    where = store.quarantine(OID)
    assert OID in where and not store.has(OID)
    if store.local_path(OID) is not None:
        assert Path(where).read_bytes() == DATA
    with pytest.raises(ObjectNotFound):  # one error from every backend, not an OS one
        store.quarantine(OID)
    with pytest.raises(ObjectNotFound):
        store.quarantine("cd" * 32)  # never there: in the local store, its fan-out folder neither


def test_local_path_is_the_objects_file_or_none(backend) -> None:
    store = backend.store
    store.put(DATA)
    path = store.local_path(OID)
    assert path is None or Path(path).read_bytes() == DATA


# -- gc and fsck through the interface only ------------------------------------------------------


def _memory_repo(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    """A repository whose objects live in a MemoryStore: one record references a tree
    holding one blob, and a series blob; one more blob is garbage."""
    repo = Repo.init(tmp_path / "mem")
    repo.store = store = MemoryStore()
    blob = store.put(b"print('hi')\n")
    tree = store.put(encode_tree([TreeEntry(b"train.py", FILE, blob, 12)]))
    series = store.put(b"series bytes")
    garbage = store.put(b"nobody needs me")
    rec = Record(id=new_run_id(), name="train", status="completed", created_at="2024-01-01T12:00:00+00:00",
                 code={"root": ".", "tree": tree}, series={"loss": series})
    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    return repo, {"blob": blob, "tree": tree, "series": series, "garbage": garbage}


def test_gc_deletes_garbage_from_an_in_memory_store_and_keeps_what_records_need(tmp_path: Path) -> None:
    from tmt.maintenance.gc import gc

    repo, ids = _memory_repo(tmp_path)
    assert gc(repo, grace=HOUR).objects_deleted == 0  # everything is young
    for oid in ids.values():
        data, mtime = repo.store.objects[oid]
        repo.store.objects[oid] = (data, mtime - 2 * HOUR)
    result = gc(repo, grace=HOUR)
    assert (result.objects_deleted, result.objects_kept) == (1, 3)
    assert set(repo.store.ids()) == {ids["blob"], ids["tree"], ids["series"]}
    assert repo.store.asides() == []
    assert list((repo.tmt_dir / "objects").iterdir()) == []  # nothing went to disk


def test_fsck_checks_and_repairs_an_in_memory_store(tmp_path: Path) -> None:
    from tmt.maintenance.fsck import fsck

    repo, ids = _memory_repo(tmp_path)
    result = fsck(repo)
    assert result.ok and result.objects_checked == 4 and result.trees_checked == 1
    assert [(p.kind, p.id) for p in result.problems] == [("dangling_object", ids["garbage"])]
    repo.store.objects[ids["series"]] = (b"bit rot", time.time())
    result = fsck(repo)
    assert [(p.kind, p.id) for p in result.remaining] == [("corrupt_object", ids["series"])]
    repaired = fsck(repo, repair=True)
    (p,) = repaired.by_kind("corrupt_object")
    assert p.repair.startswith(f"moved to quarantine/{ids['series']}")
    assert repo.store.quarantined == {ids["series"]: b"bit rot"}
