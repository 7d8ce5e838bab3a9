"""Hand-made hostile stores (a store is a folder people copy around): trees and records no
tmt would write, built byte by byte, for tests/reliability/test_hostile.py and scripts/stress.
"""
from __future__ import annotations

import json
from pathlib import Path

import msgpack

from tmt.repo import Repo
from tmt.store.ids import hash_bytes

RUN_IDS = {k: f"{i:x}" * 32 for i, k in enumerate(
    ["dotdot", "slash", "link", "under_link", "huge", "outside_tree", "outside_artifact", "blob_as_tree",
     "id_mismatch", "missing_tree"], start=1)} | {"id_mismatch": "ab" * 16}


def put_raw(repo: Repo, data: bytes) -> str:
    return repo.store.put(data, hash_bytes(data))


def raw_tree(repo: Repo, rows: list) -> str:
    """A tree from raw rows [name, kind, oid hex, size]: no validation, sorted as given."""
    return put_raw(repo, msgpack.packb([1, [[n, k, bytes.fromhex(o), s] for n, k, o, s in rows]], use_bin_type=True))


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
        "dotdot": raw_tree(repo, [[b"..", "f", blob, 15]]),
        "slash": raw_tree(repo, [[b"a/b", "f", blob, 15]]),
        # run 'link' makes d -> OUTSIDE; run 'under_link' has d/evil.py: checked out one after
        # the other in place, the second must not write through the first's symlink
        "link": raw_tree(repo, [[b"d", "l", tgt_abs, len(str(outside))]]),
        "under_link": raw_tree(repo, [[b"d", "d", raw_tree(repo, [[b"evil.py", "f", blob, 15]]), 15]]),
        # a file claiming 2**63-1 bytes
        "huge": raw_tree(repo, [[b"big.py", "f", blob, (1 << 63) - 1]]),
        # a blob where a tree is expected
        "blob_as_tree": blob,
        "id_mismatch": raw_tree(repo, [[b"ok.py", "f", blob, 15]]),
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
