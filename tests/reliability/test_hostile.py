"""Hostile stores through the real `tmt` command: tree entries named `..` or `a/b`, a symlink
then a file beneath it (two runs checked out one after the other), absurd sizes (refused by
the byte bound on trees), records
whose tree or artifact points outside the store, a record whose id is not its file name.
`tmt checkout -o`, in-place `tmt checkout`, `tmt show`, `tmt ls` and `tmt fsck` refuse or
report each with a clear error, never a traceback, and write nothing outside their target.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import hostile
import workload
from tmt.repo import Repo


def listing(base: Path, skip: Path) -> dict[str, tuple]:
    """Every path under `base` (not following links, not under `skip`) with its kind and bytes."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(base):
        if Path(dirpath) == skip.parent:
            dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = os.lstat(p)
            out[str(p.relative_to(base))] = (
                st.st_mode >> 12, os.readlink(p) if p.is_symlink() else (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            )
    return out


@pytest.fixture
def store(tmp_path: Path, project: Path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine\n")
    (project / "train.py").write_text("x = 1\n")
    repo = Repo.init(project)
    ids = hostile.build(repo, outside)
    return project, outside, ids


def tmt(project: Path, *args: str):
    r = workload.run_tmt(list(args), project)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def errors(r) -> str:
    """stderr without the warnings every command prints about the mismatched record."""
    return "".join(line + "\n" for line in r.stderr.splitlines() if not line.startswith("tmt: warning: skipping corrupt record"))


CHECKOUT_ERRORS = {
    "dotdot": "invalid entry name b'..'",
    "slash": "invalid entry name b'a/b': contains '/' or NUL",
    "blob_as_tree": "does not decode: malformed msgpack",
    "missing_tree": "is missing from the store",
    "outside_tree": "is corrupt: its code tree '../../../../outside' is not an object id",
    # sizes in trees are claims, but a claim past max_tree_bytes is refused before any write
    "huge": "expands to more than 1,099,511,627,776 bytes (max_tree_bytes)",
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(hostile.RUN_IDS))
def test_checkout_o_show_and_in_place(store, case: str, tmp_path: Path) -> None:
    project, outside, ids = store
    ref = ids[case][:8]
    before = listing(tmp_path, skip=project / ".tmt")
    target = tmp_path / f"out-{case}"
    co = tmt(project, "checkout", "-o", str(target), ref)
    show = tmt(project, "show", ref)
    if case == "id_mismatch":  # the record is skipped everywhere, with a warning naming it
        for r in (co, show):
            assert r.returncode == 2
            assert errors(r).startswith(f"Error: no run matches '{ref}'")
            assert "file name does not match its id cdcdcdcd" in r.stderr
    elif case in CHECKOUT_ERRORS:
        assert co.returncode in (1, 2) and errors(co).startswith("Error: "), co.stderr
        assert CHECKOUT_ERRORS[case] in co.stderr
        assert show.returncode == 0  # show reports the record as it is
    else:  # symlinks are links, never followed
        assert co.returncode == 0, co.stderr
        assert show.returncode == 0, show.stderr
    if case == "link":
        assert os.readlink(target / "d") == str(outside)
    if case == "outside_artifact":
        assert "../../escape.pkl" in show.stdout  # shown as data, never used as a path
    # Nothing outside the target changed (the target may hold a partial checkout).
    after = listing(tmp_path, skip=project / ".tmt")
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert all(k == target.name or k.startswith(target.name + "/") or k.startswith("_home") for k in changed), changed

    # In place: refused the same way, or done inside the code root only.
    inplace = tmt(project, "checkout", ref)
    assert inplace.returncode in (0, 1, 2), inplace.stderr
    if case in CHECKOUT_ERRORS or case == "id_mismatch":
        assert inplace.returncode != 0 and errors(inplace).startswith("Error: ")
    assert sorted(os.listdir(outside)) == ["keep.txt"] and (outside / "keep.txt").read_text() == "mine\n"


@pytest.mark.slow
def test_symlink_then_a_file_beneath_it_in_place(store) -> None:
    """Run 'link' leaves d -> OUTSIDE in the code root; run 'under_link' has d/evil.py. The
    second checkout replaces the link by a folder; nothing is written through it."""
    project, outside, ids = store
    assert tmt(project, "checkout", ids["link"][:8]).returncode == 0
    assert os.readlink(project / "d") == str(outside)
    r = tmt(project, "checkout", ids["under_link"][:8])
    assert r.returncode == 0, r.stderr
    assert not (project / "d").is_symlink() and (project / "d" / "evil.py").is_file()
    assert sorted(os.listdir(outside)) == ["keep.txt"]
    # and back: the folder becomes the link again, still nothing written outside
    assert tmt(project, "checkout", ids["link"][:8]).returncode == 0
    assert os.readlink(project / "d") == str(outside) and sorted(os.listdir(outside)) == ["keep.txt"]


@pytest.mark.slow
def test_ls_lists_and_fsck_reports_every_hostile_record(store) -> None:
    project, outside, ids = store
    ls = tmt(project, "ls", "--json")
    assert ls.returncode == 0
    listed = {r["id"] for r in json.loads(ls.stdout)}
    assert listed == {v for k, v in ids.items() if k != "id_mismatch"}
    mismatch = project / ".tmt" / "experiments" / f"{ids['id_mismatch']}.json"
    assert ls.stderr == f"tmt: warning: skipping corrupt record {mismatch}: file name does not match its id {'cd' * 16}\n"

    fsck = tmt(project, "fsck", "--json")
    assert fsck.returncode == 1
    problems = json.loads(fsck.stdout)["problems"]
    msgs = "\n".join(p["message"] for p in problems)
    assert "references code.tree '../../../../outside', which is not an object id" in msgs
    assert "references artifact a -> '../../../../../../etc/passwd', which is not an object id" in msgs
    assert f"file name does not match its id {'cd' * 16}" in msgs
    assert "invalid entry name b'..'" in msgs and "invalid entry name b'a/b'" in msgs
    assert f"says big.py has {(1 << 63) - 1} bytes, but its object" in msgs
    assert f"tree {'0' * 64} (record {ids['missing_tree']} code) is missing" in msgs
    # --repair cannot invent the missing content and says so; it writes nothing outside.
    rep = tmt(project, "fsck", "--repair")
    assert rep.returncode == 1
    assert sorted(os.listdir(outside)) == ["keep.txt"]
