"""One conformance suite for every remote backend: in-memory, folder, S3 (a real SeaweedFS).

push, pull and remote gc rely on exactly these behaviours and nothing else.
"""
from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from tmt.remote.backend import RemoteNotFound


@pytest.fixture(params=["memory", "folder", "s3"])
def backend(request, tmp_path):
    if request.param == "memory":
        from tmt.remote.memory import MemoryBackend

        yield MemoryBackend()
    elif request.param == "folder":
        from tmt.remote.folder import FolderBackend

        yield FolderBackend(tmp_path / "remote")
    else:
        server = request.getfixturevalue("seaweed")
        request.getfixturevalue("s3_env")
        from tmt.remote.s3 import S3Backend

        b = S3Backend(server.bucket, f"conf-{uuid.uuid4().hex[:10]}", endpoint_url=server.endpoint)
        yield b
        b.close()


def test_create_only_put_creates_once_and_never_overwrites(backend):
    assert backend.put_create("objects/ab/cd", b"first") is True
    assert backend.put_create("objects/ab/cd", b"second") is False
    assert backend.get("objects/ab/cd") == b"first"
    assert backend.head("objects/ab/cd").size == 5


def test_missing_objects(backend):
    with pytest.raises(RemoteNotFound) as e:
        backend.get("objects/00/none")
    assert e.value.key == "objects/00/none"
    assert isinstance(e.value, KeyError)
    assert backend.head("objects/00/none") is None


def test_head_reports_size_and_the_servers_time(backend):
    before = time.time()
    backend.put_create("records/x/1.json", b"12345678")
    info = backend.head("records/x/1.json")
    assert info.key == "records/x/1.json" and info.size == 8
    assert abs(info.mtime - before) < 3600  # the server's clock, near ours


def test_list_by_prefix_is_recursive_and_exact(backend):
    keys = ["objects/ab/1", "objects/ab/2", "objects/cd/3", "records/r1/v1.json", "records/r2/v1.json", "tmt-remote.json"]
    for k in keys:
        backend.put_create(k, k.encode())
    assert sorted(i.key for i in backend.list("objects/")) == keys[:3]
    assert sorted(i.key for i in backend.list("records/")) == keys[3:5]
    assert sorted(i.key for i in backend.list("records/r1")) == ["records/r1/v1.json"]
    assert sorted(i.key for i in backend.list("objects/ab/")) == keys[:2]
    assert list(backend.list("nothing/")) == []
    assert {i.key: i.size for i in backend.list("")} == {k: len(k) for k in keys}


def test_delete_many_ignores_absent_keys(backend):
    for k in ("gc/a", "gc/b", "gc/c"):
        backend.put_create(k, b"x")
    backend.delete_many(["gc/a", "gc/c", "gc/never"])
    assert [i.key for i in backend.list("gc/")] == ["gc/b"]
    assert backend.put_create("gc/a", b"again") is True  # a deleted name can be created again


def test_files_in_and_out(backend, tmp_path):
    src = tmp_path / "src.bin"
    data = bytes(range(256)) * 5000
    src.write_bytes(data)
    assert backend.put_create("objects/ff/big", src) is True
    dst = tmp_path / "dst.bin"
    assert backend.get("objects/ff/big", into=dst) == len(data)
    assert dst.read_bytes() == data
    with pytest.raises(RemoteNotFound):
        backend.get("objects/ff/none", into=tmp_path / "never.bin")


@pytest.mark.slow
def test_racing_creates_of_one_name_leave_one_winner(backend):
    results = []
    barrier = threading.Barrier(6)

    def put(i: int) -> None:
        barrier.wait()
        results.append((backend.put_create("leases/same", f"writer {i}".encode()), i))

    threads = [threading.Thread(target=put, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [i for created, i in results if created]
    assert len(winners) == 1
    assert backend.get("leases/same") == f"writer {winners[0]}".encode()


def test_empty_objects(backend):
    assert backend.put_create("objects/af/empty", b"") is True
    assert backend.get("objects/af/empty") == b""
    assert backend.head("objects/af/empty").size == 0


def test_folder_backend_never_creates_a_missing_mount_point(tmp_path):
    from tmt.errors import RemoteError
    from tmt.remote.folder import FolderBackend

    b = FolderBackend(tmp_path / "not-mounted" / "tmt")
    with pytest.raises(RemoteError) as e:
        b.put_create("objects/ab/cd", b"x")
    assert "does not exist" in e.value.message and "mounted" in e.value.hint
    assert not (tmp_path / "not-mounted").exists()


def test_folder_backend_refuses_keys_that_leave_it(tmp_path):
    from tmt.errors import RemoteError
    from tmt.remote.folder import FolderBackend

    b = FolderBackend(tmp_path / "remote")
    for key in ("../x", "objects/../../x", "/etc/passwd", ""):
        with pytest.raises(RemoteError):
            b.get(key)
    assert not Path(tmp_path / "x").exists()
