"""Hand-made hostile stores (a store is a folder people copy around): trees and records no
tmt would write, built byte by byte, for tests/reliability/test_hostile.py and scripts/stress.
"""
from __future__ import annotations

import json
from pathlib import Path

from tree_helpers import raw_tree

from tmt.repo import Repo
from tmt.store.ids import hash_bytes

RUN_IDS = {k: f"{i:x}" * 32 for i, k in enumerate(
    ["dotdot", "slash", "link", "under_link", "huge", "outside_tree", "outside_artifact", "blob_as_tree",
     "id_mismatch", "missing_tree"], start=1)} | {"id_mismatch": "ab" * 16}


def put_raw(repo: Repo, data: bytes) -> str:
    return repo.store.put(data, hash_bytes(data))


def write_record(repo: Repo, file_id: str, *, rec_id: str | None = None, tree: object = None,
                 artifacts: list | None = None, name: str | None = None, code_bytes: int = 10) -> Path:
    rec = {
        "format": 1, "id": rec_id or file_id, "name": name or f"h-{file_id[:4]}", "status": "completed",
        "created_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:01+00:00",
        "duration_s": 1.0, "description": "", "tags": [],
        "code": None if tree is None else {"root": ".", "tree": tree, "files": 1, "bytes": code_bytes, "git": None},
        "params": {}, "metrics": {}, "series": {}, "artifacts": artifacts or [], "parent": None,
        "env": {"host": "elsewhere", "pid": 1}, "error": None,
    }
    repo.experiments_dir.mkdir(parents=True, exist_ok=True)
    path = repo.experiments_dir / f"{file_id}.json"
    path.write_text(json.dumps(rec, indent=2))
    return path


def build(repo: Repo, outside: Path) -> dict[str, str]:
    """One run per hostile case; returns case -> run id (the file name's id)."""
    blob = put_raw(repo, b"print('pwned')\n")
    tgt_abs = put_raw(repo, str(outside).encode())
    ids = dict(RUN_IDS)
    cases = {
        # entry names no tree may hold
        "dotdot": raw_tree(repo.store, [[b"..", "f", blob, 15]]),
        "slash": raw_tree(repo.store, [[b"a/b", "f", blob, 15]]),
        # run 'link' makes d -> OUTSIDE; run 'under_link' has d/evil.py: checked out one after
        # the other in place, the second must not write through the first's symlink
        "link": raw_tree(repo.store, [[b"d", "l", tgt_abs, len(str(outside))]]),
        "under_link": raw_tree(repo.store, [[b"d", "d", raw_tree(repo.store, [[b"evil.py", "f", blob, 15]]), 15]]),
        # a file claiming 2**63-1 bytes
        "huge": raw_tree(repo.store, [[b"big.py", "f", blob, (1 << 63) - 1]]),
        # a blob where a tree is expected
        "blob_as_tree": blob,
        "id_mismatch": raw_tree(repo.store, [[b"ok.py", "f", blob, 15]]),
        "missing_tree": "0" * 64,
    }
    for case, tree in cases.items():
        write_record(repo, ids[case], tree=tree, name=f"h-{case}",
                     rec_id=("cd" * 16 if case == "id_mismatch" else None),
                     code_bytes=(1 << 62) if case == "huge" else 15)
    write_record(repo, ids["outside_tree"], tree="../../../../outside", name="h-outside_tree")
    write_record(repo, ids["outside_artifact"], tree=cases["id_mismatch"], name="h-outside_artifact",
                 artifacts=[{"name": "a", "object": "../" * 6 + "etc/passwd", "size": 10**30,
                             "format": "pickle", "filename": "../../escape.pkl"}])
    return ids


# -- planted stores: one ordinary store, then one fault planted, as a hostile author would ------
#
# `plant(case, project, outside)` records two ordinary runs in `project` (code, params,
# metrics, a series, a JSON and a pickled artifact), then plants the fault `case` names; it
# returns what the tests need to know. `outside` is a folder beside the project whose bytes,
# modes and mtimes must never change (see `canary`). Every case is a store people could be
# handed: a tarball, a shared folder, an rsync from a colleague.

import os as _os
import stat as _stat
from dataclasses import dataclass, field


@dataclass
class Planted:
    a: str  # the older ordinary run's id
    b: str  # the newer one's
    fsck: str | None = None  # a fault kind `tmt fsck --json` must report (None: none required)
    notes: dict = field(default_factory=dict)
    never_written: list[str] = field(default_factory=list)  # project paths no command may create


def _record_two_runs(project: Path) -> tuple[str, str]:
    import tmt

    (project / "train.py").write_text("import lib.util\nprint('training')\n")
    (project / "lib").mkdir(exist_ok=True)
    (project / "lib" / "util.py").write_text("LR = 0.1\n")
    ids = []
    for i in range(2):
        (project / "lib" / "util.py").write_text(f"LR = 0.{i + 1}\n")
        with tmt.start_run("base", params={"lr": 0.1 * (i + 1)}, tags=["t"]) as run:
            run.log({"loss": 1.0 / (i + 1)}, step=0)
            run.save({"k": i}, "cfg", format="json")
            run.save([i], "obj")
            run.metrics["f1"] = 0.5 + i / 10
        ids.append(run.id)
    from tmt.recorder.publish import flush

    flush()  # the background deletion of the journals is done before anything is planted
    return ids[0], ids[1]


def canary(outside: Path) -> None:
    """Fill `outside` with what planted links aim at: a 0600 secret, an old file (gc's bait:
    "stale"), a script, a folder of object-like names, a SQLite database, a record-like JSON."""
    import sqlite3

    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text("the user's secret\n")
    _os.chmod(outside / "secret.txt", 0o600)
    old = outside / "old.log"
    old.write_text("old but precious\n")
    _os.utime(old, (1_000_000_000, 1_000_000_000))
    (outside / "run.sh").write_text("#!/bin/sh\necho hi\n")
    _os.chmod(outside / "run.sh", 0o755)
    objs = outside / "objs"
    objs.mkdir(exist_ok=True)
    (objs / ("ab" * 31)).write_text("looks like an object\n")
    (objs / ("ab" * 32)).write_text("looks like a trashed object\n")
    (objs / "x.pin").write_bytes(b"\0" * 32)
    _os.utime(objs / "x.pin", (1_000_000_000, 1_000_000_000))
    db = sqlite3.connect(outside / "other.db")
    db.execute("CREATE TABLE precious (x)")
    db.execute("INSERT INTO precious VALUES (42)")
    db.commit()
    db.close()


def snapshot_tree(base: Path) -> dict[str, tuple]:
    """Every path under `base`, not following links: (mode, size, mtime_ns, content or target)."""
    out = {}
    for dirpath, dirnames, filenames in _os.walk(base):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = _os.lstat(p)
            if _stat.S_ISLNK(st.st_mode):
                body = _os.readlink(p)
            elif _stat.S_ISREG(st.st_mode):
                body = p.read_bytes()
            else:
                body = None
            out[str(p.relative_to(base))] = (st.st_mode, st.st_size, st.st_mtime_ns, body)
    return out


def _swap(path: Path, make) -> None:
    """Replace the file or folder at `path` by what `make(path)` creates there."""
    import shutil

    if path.is_symlink() or path.is_file():
        path.chmod(0o644) if not path.is_symlink() else None
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
    make(path)


def _link_to(target: Path):
    return lambda p: _os.symlink(target, p)


def _blob_of(repo: Repo, run_id: str, rel: bytes) -> str:
    from tmt.records.io import read_record, record_path
    from tmt.snapshot.checkout import read_tree

    tree = read_record(record_path(repo.experiments_dir, run_id)).code["tree"]
    *dirs, name = rel.split(b"/")
    for d in dirs:
        tree = next(e.oid for e in read_tree(repo.store, tree) if e.name == d)
    return next(e.oid for e in read_tree(repo.store, tree) if e.name == name)


def _rewrite(repo: Repo, run_id: str, **changes) -> None:
    from tmt.records.io import read_record, record_path, write_record

    rec = read_record(record_path(repo.experiments_dir, run_id))
    for k, v in changes.items():
        setattr(rec, k, v)
    write_record(repo.experiments_dir, repo.tmp_dir, rec)


ESC = "\x1b[2J\x1b]52;c;cHduZWQ=\x07\x9b31m\u202e"


def _escapes(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """Terminal control sequences in every string a record and a tree can hold."""
    evil = f"evil{ESC}name\n"
    blob = put_raw(repo, f"print('{ESC}')\n".encode())
    sub = raw_tree(repo.store, [[f"f{ESC}.py".encode(), "f", blob, 17]])
    target = f"../{ESC}".encode()
    tree = raw_tree(repo.store, [[b"lib\x1b[31m", "d", sub, 17], [b"link", "l", put_raw(repo, target), len(target)],
                           [f"t{ESC}.py".encode(), "f", blob, 17]])
    _rewrite(repo, b, name=evil, tags=[evil], description=evil, params={evil: evil},
             metrics={evil: 1.0, "f1": 0.9}, status="failed",
             error={"type": evil, "message": evil, "traceback": f"Traceback\n  {ESC}\n"},
             code={"root": ".", "tree": tree, "files": 2, "bytes": 34, "git": {"commit": evil, "branch": evil, "dirty": True}},
             env={"argv": [evil], "cwd": evil, "host": evil, "pid": 1, "user": evil})
    return Planted(a, b, notes={"name": evil})


def _tree_bomb(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """30 trees, each naming the next twice: 2**30 paths from 3 KB of objects."""
    blob = put_raw(repo, b"x = 1\n")
    tree = raw_tree(repo.store, [[b"f.py", "f", blob, 6]])
    for _ in range(30):
        tree = raw_tree(repo.store, [[b"a", "d", tree, 0], [b"b", "d", tree, 0]])
    _rewrite(repo, b, code={"root": ".", "tree": tree, "files": 1 << 30, "bytes": 6 << 30, "git": None})
    return Planted(a, b, fsck="bad_tree", notes={"tree": tree})


def _object_is(kind: str):
    def plant(repo: Repo, a: str, b: str, outside: Path) -> Planted:
        oid = _blob_of(repo, b, b"lib/util.py")
        path = repo.store.path(oid)
        if kind == "symlink":
            _swap(path, _link_to(outside / "secret.txt"))
        elif kind == "fifo":
            _swap(path, _os.mkfifo)
        elif kind == "folder":
            _swap(path, _os.mkdir)
        elif kind == "device":  # as root only (tests skip otherwise)
            _swap(path, lambda p: _os.mknod(p, 0o644 | _stat.S_IFCHR, _os.makedev(1, 3)))
        return Planted(a, b, fsck="corrupt_object", notes={"oid": oid})
    return plant


def _tree_object_fifo(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    from tmt.records.io import read_record, record_path

    tree = read_record(record_path(repo.experiments_dir, b)).code["tree"]
    _swap(repo.store.path(tree), _os.mkfifo)
    return Planted(a, b, fsck="corrupt_object")


def _artifact_object(kind: str):
    def plant(repo: Repo, a: str, b: str, outside: Path) -> Planted:
        from tmt.records.io import read_record, record_path

        rec = read_record(record_path(repo.experiments_dir, b))
        oid = next(x["object"] for x in rec.artifacts if x["name"] == "cfg")
        _swap(repo.store.path(oid), _os.mkfifo if kind == "fifo" else _link_to(outside / "secret.txt"))
        return Planted(a, b, fsck="corrupt_object")
    return plant


def _store_path(rel: str, make_kind: str, fsck: str | None = "unsafe_path", run_dir: bool = False):
    """Plant a link (to `outside` or a file in it) or a FIFO at the store path `rel`."""
    def plant(repo: Repo, a: str, b: str, outside: Path) -> Planted:
        where = rel.replace("<a>", a).replace("<b>", b)
        if where == "<stat cache>":
            where = next(f"cache/{p.name}" for p in (repo.tmt_dir / "cache").iterdir() if p.name.startswith("stat-"))
        path = repo.tmt_dir / where
        path.parent.mkdir(parents=True, exist_ok=True)
        target = {"dir": outside / "objs", "file": outside / "old.log", "db": outside / "other.db",
                  "top": outside}.get(make_kind)
        if make_kind == "fifo":
            _swap(path, _os.mkfifo) if path.exists() or path.is_symlink() else _os.mkfifo(path)
        elif path.exists() or path.is_symlink():
            _swap(path, _link_to(target))
        else:
            _os.symlink(target, path)
        return Planted(a, b, fsck=fsck)
    return plant


def _record_is(kind: str):
    def plant(repo: Repo, a: str, b: str, outside: Path) -> Planted:
        path = repo.experiments_dir / f"{b}.json"
        if kind == "fifo":
            _swap(path, _os.mkfifo)
        else:
            import shutil

            shutil.copy(path, outside / "copy.json")
            _swap(path, _link_to(outside / "copy.json"))
        return Planted(a, b, fsck="bad_record")
    return plant


def _code_root_outside(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    (repo.tmt_dir / "config.toml").write_text(f'code_root = "{outside}"\n')
    return Planted(a, b, fsck="bad_config")


def _config_fifo(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    _os.mkfifo(repo.tmt_dir / "config.toml")
    return Planted(a, b)


def _stat_cache_flipped(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    cache = next(p for p in (repo.tmt_dir / "cache").iterdir() if p.name.startswith("stat-"))
    data = bytearray(cache.read_bytes())
    data[len(data) // 2] ^= 0x5A
    cache.write_bytes(bytes(data))
    return Planted(a, b, fsck="bad_cache")


def _huge_numbers(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    _rewrite(repo, b, metrics={"f1": 10**400, "neg": -(10**400), "big": 2**70, "loss": 0.5},
             params={"n": 10**300, "lr": 0.2}, duration_s=10**400,
             created_at="0001-01-01T00:00:00+14:00", finished_at="9999-12-31T23:59:59-14:00")
    return Planted(a, b)


def _undecodable_names(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """Names holding undecodable bytes (as os.fsdecode makes them) in the record and tree."""
    blob = put_raw(repo, b"x = 1\n")
    tree = raw_tree(repo.store, [[b"caf\xe9.py", "f", blob, 6], [b"\xff\xfe", "d", raw_tree(repo.store, [[b"a\x80", "f", blob, 6]]), 6]])
    bad = "caf\udce9\udcff"
    _rewrite(repo, b, name=bad, tags=[bad], params={bad: bad}, metrics={bad: 1.0},
             code={"root": ".", "tree": tree, "files": 2, "bytes": 12, "git": None},
             env={"argv": [bad], "cwd": bad, "host": "h", "pid": 1})
    return Planted(a, b)


def _fanout_is_file(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    oid = _blob_of(repo, b, b"lib/util.py")
    fan = repo.store.objects_dir / oid[:2]
    _swap(fan, lambda p: p.write_text("not a folder"))
    return Planted(a, b, fsck="unsafe_path")


def _add_to_tree(repo: Repo, b: str, rows: list) -> None:
    """Run b's tree with raw `rows` [name, kind, oid, size] added at the top."""
    from tmt.records.io import read_record, record_path
    from tmt.snapshot.checkout import read_tree

    code = dict(read_record(record_path(repo.experiments_dir, b)).code)
    old = [[e.name, e.kind, e.oid, e.size] for e in read_tree(repo.store, code["tree"])]
    code["tree"] = raw_tree(repo.store, sorted(old + rows))
    _rewrite(repo, b, code=code)


def _reserved_in_tree(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """A tree holding .git/hooks/pre-commit, .tmt/config.toml and sub/.TMT (a view pointer
    naming another store): an in-place checkout would plant a hook the user's next commit
    runs, a config in the store, a pointer that records the user's code elsewhere."""
    hook = f"#!/bin/sh\ntouch {outside}/pwned\n".encode()
    config, pointer, util = b"max_file_size = 1\n", f"tmtdir: {outside}\n".encode(), b"x = 1\n"
    n = len(hook) + len(config) + len(pointer) + len(util)
    hooks = raw_tree(repo.store, [[b"pre-commit", "x", put_raw(repo, hook), len(hook)]])
    _add_to_tree(repo, b, [
        [b".git", "d", raw_tree(repo.store, [[b"hooks", "d", hooks, len(hook)]]), len(hook)],
        [b".tmt", "d", raw_tree(repo.store, [[b"config.toml", "f", put_raw(repo, config), len(config)]]), len(config)],
        [b"sub", "d", raw_tree(repo.store, [[b".TMT", "f", put_raw(repo, pointer), len(pointer)],
                                      [b"util.py", "f", put_raw(repo, util), len(util)]]), n],
    ])
    return Planted(a, b, fsck="bad_tree", never_written=[".git/hooks/pre-commit", ".tmt/config.toml", "sub"])


def _venv_in_tree(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """The user keeps a venv (and caches) in the project; run b's tree holds a
    sitecustomize.py for it, which every later start of that interpreter would run."""
    root = repo.root
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (root / "__pycache__").mkdir()
    code = f"open('{outside}/pwned', 'w')\n".encode()
    site = raw_tree(repo.store, [[b"sitecustomize.py", "f", put_raw(repo, code), len(code)]])
    _add_to_tree(repo, b, [
        [b".venv", "d", raw_tree(repo.store, [[b"lib", "d", site, len(code)]]), len(code)],
        [b"__pycache__", "d", site, len(code)],
    ])
    return Planted(a, b, never_written=[".venv/lib/sitecustomize.py", "__pycache__/sitecustomize.py"])


def _sparse_journal(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """Run b looks live (this host, pid 1) and its journal is a 3 GiB sparse file (a few
    bytes in a tarball): readers stream frames and stop at the first, never read 3 GiB."""
    import socket

    _rewrite(repo, b, status="running", finished_at=None, series={},
             env={"host": socket.gethostname(), "pid": 1})
    with open(repo.tmt_dir / "journal" / f"{b}.log", "wb") as f:
        f.truncate(3 << 30)
    return Planted(a, b)


def _sparse_pin(repo: Repo, a: str, b: str, outside: Path) -> Planted:
    """A 3 GiB sparse file in pins/, named as another host's live pin."""
    with open(repo.tmt_dir / "pins" / "h_1_00000000.pin", "wb") as f:
        f.truncate(3 << 30)
    return Planted(a, b)


#: case -> planter(repo, a, b, outside) -> Planted
PLANTED = {
    "tmp_symlink": _store_path("tmp", "dir"),
    "tmp_fifo": _store_path("tmp", "fifo"),
    "gc_lock_symlink": _store_path("gc.lock", "file"),
    "gc_lock_fifo": _store_path("gc.lock", "fifo"),
    "index_symlink": _store_path("index.sqlite", "db"),
    "index_fifo": _store_path("index.sqlite", "fifo"),
    "index_wal_symlink": _store_path("index.sqlite-wal", "file"),
    "epoch_fifo": _store_path("gc.epoch", "fifo"),
    "epoch_symlink": _store_path("gc.epoch", "file"),
    "quarantine_symlink": _store_path("quarantine", "dir"),
    "artifacts_cache_symlink": _store_path("cache/artifacts/<b>", "dir"),
    "checkouts_cache_symlink": _store_path("cache/checkouts/<a>", "dir"),  # `tmt rm a` removes it
    "cache_folder_symlink": _store_path("cache", "dir"),
    "stat_cache_symlink": _store_path("<stat cache>", "file"),
    "fanout_symlink": _store_path("objects/ab", "dir"),
    "objects_symlink": _store_path("objects", "dir"),
    "experiments_symlink": _store_path("experiments", "top"),
    "pins_symlink": _store_path("pins", "dir"),
    "pin_fifo": _store_path("pins/h_1_00000000.pin", "fifo"),
    "journal_symlink": _store_path("journal", "dir"),
    "journal_fifo": _store_path("journal/<b>.log", "fifo"),
    "trash_symlink": _store_path("trash-elsewhere-1-0", "dir"),
    "object_symlink": _object_is("symlink"),
    "object_fifo": _object_is("fifo"),
    "object_folder": _object_is("folder"),
    "object_device": _object_is("device"),
    "tree_object_fifo": _tree_object_fifo,
    "artifact_object_fifo": _artifact_object("fifo"),
    "artifact_object_symlink": _artifact_object("symlink"),
    "fanout_is_a_file": _fanout_is_file,
    "record_fifo": _record_is("fifo"),
    "record_symlink": _record_is("symlink"),
    "config_code_root_outside": _code_root_outside,
    "config_fifo": _config_fifo,
    "tree_bomb": _tree_bomb,
    "escapes": _escapes,
    "undecodable_names": _undecodable_names,
    "stat_cache_flipped": _stat_cache_flipped,
    "huge_numbers": _huge_numbers,
    "reserved_names_in_tree": _reserved_in_tree,
    "venv_in_tree": _venv_in_tree,
    "journal_sparse": _sparse_journal,
    "pin_sparse": _sparse_pin,
}


def plant(case: str, project: Path, outside: Path) -> Planted:
    """An ordinary store in `project` with the fault `case` planted (see PLANTED)."""
    canary(outside)
    a, b = _record_two_runs(project)
    repo = Repo.find(project)
    return PLANTED[case](repo, a, b, outside)
