"""A store from elsewhere is untrusted input (DESIGN section 12): settings it carries, links
and special files planted in it, its caches, its trees and the text of its records. The
whole matrix of planted stores against every command is tests/reliability/test_hostile_stores.py;
these are the rules one by one, with their exact messages.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tree_helpers import raw_tree

import tmt
from tmt.cli import cli
from tmt.errors import CheckoutError, RecordingError, TreeTooLarge, UnknownRef, UnsafePath, UsageError
from tmt.repo import Repo
from tmt.snapshot.checkout import materialize
from tmt.snapshot.diff import diff_trees
from tmt.snapshot.tree import TreeBounds
from tmt.store import nofollow
from tmt.store.ids import hash_bytes

ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env={**ENV, **(env or {})})


def record(name: str = "r", **kw) -> str:
    with tmt.start_run(name, **kw) as run:
        run.metrics["f1"] = 0.5
    return run.id


def bomb(repo: Repo, levels: int = 30) -> str:
    blob = repo.store.put(b"x = 1\n")
    tree = raw_tree(repo.store, [[b"f.py", "f", blob, 6]])
    for _ in range(levels):
        tree = raw_tree(repo.store, [[b"a", "d", tree, 0], [b"b", "d", tree, 0]])
    return tree


# -- settings the store carries ------------------------------------------------------------


def test_code_root_in_the_stores_config_must_stay_inside_the_project(tmp_path: Path, project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text('code_root = "../elsewhere"\n')
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(UsageError) as e:
        Repo.find(project).root
    assert e.value.message == (f"{repo.tmt_dir / 'config.toml'}: code_root '../elsewhere' resolves to "
                               f"{tmp_path / 'elsewhere'}, outside the project folder {project}")
    assert e.value.hint == ("a store's own settings may only name a folder inside the project; set code_root in "
                            "[tool.tmt] of pyproject.toml for a folder elsewhere, or fix or delete the line")
    (repo.tmt_dir / "config.toml").write_text('code_root = "src"\n')  # inside: fine
    (project / "src").mkdir()
    assert Repo.find(project).root == project / "src"
    (project / "pyproject.toml").write_text('[tool.tmt]\ncode_root = "../elsewhere"\n')  # the user's own file
    (repo.tmt_dir / "config.toml").unlink()
    assert Repo.find(project).root == tmp_path / "elsewhere"


def test_a_symlinked_code_root_leading_outside_is_refused(tmp_path: Path, project: Path) -> None:
    repo = Repo.init(project)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", project / "src")
    (repo.tmt_dir / "config.toml").write_text('code_root = "src"\n')
    with pytest.raises(UsageError, match="outside the project folder"):
        Repo.find(project).root


def test_tree_bounds_from_the_store_only_lower_the_defaults(project: Path) -> None:
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text("max_tree_paths = 1000000000\nmax_tree_bytes = '1MiB'\n")
    assert Repo.find(project).tree_bounds == TreeBounds(10_000_000, 1 << 20)
    (project / "pyproject.toml").write_text("[tool.tmt]\nmax_tree_paths = 50000000\n")
    assert Repo.find(project).tree_bounds == TreeBounds(50_000_000, 1 << 20)  # the user's own file may raise it
    (repo.tmt_dir / "config.toml").write_text("max_tree_paths = 0\n")
    with pytest.raises(UsageError) as e:
        Repo.find(project)
    assert e.value.message == f"{repo.tmt_dir / 'config.toml'}: max_tree_paths must be a whole number above 0"
    assert e.value.hint == "fix the value (or delete the line for the default, 10,000,000)"


def test_a_settings_file_that_is_a_fifo_is_an_error_not_a_wait(project: Path) -> None:
    repo = Repo.init(project)
    os.mkfifo(repo.tmt_dir / "config.toml")
    r = invoke("ls")
    assert r.exit_code == 2
    assert r.output == (f"Error: could not read {repo.tmt_dir / 'config.toml'}: it is a FIFO, not a file\n"
                        "hint: fix its permissions or delete it\n")


# -- links and special files where tmt keeps its own ----------------------------------------


def test_gc_deletes_nothing_through_a_symlinked_tmp(tmp_path: Path, project: Path) -> None:
    """The red team's critical find: .tmt/tmp -> elsewhere, and gc removed "stale" files there."""
    record()
    repo = Repo.find(project)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "1-old").write_text("precious")
    os.utime(victim / "1-old", (1e9, 1e9))
    os.rmdir(repo.tmp_dir)
    os.symlink(victim, repo.tmp_dir)
    r = invoke("gc", "--grace", "0")
    assert r.exit_code == 1
    assert r.output == (
        f"Error: {repo.tmp_dir} is a symbolic link (to {victim}), where tmt keeps its own folder; tmt never "
        "follows or writes through it; gc changes nothing\n"
        f"hint: {nofollow.UNSAFE_HINT}\n")
    assert (victim / "1-old").read_text() == "precious"
    with pytest.raises(UnsafePath):  # and no writer puts anything there
        record()
    assert os.listdir(victim) == ["1-old"]


def test_fsck_names_and_repair_quarantines_planted_links(tmp_path: Path, project: Path) -> None:
    record()
    repo = Repo.find(project)
    (tmp_path / "x").write_text("theirs")
    os.symlink(tmp_path / "x", repo.tmt_dir / "gc.lock")
    import shutil

    shutil.rmtree(repo.tmt_dir / "pins", ignore_errors=True)
    os.symlink(tmp_path, repo.tmt_dir / "pins")
    r = invoke("fsck", "--json")
    assert r.exit_code == 1
    unsafe = [p for p in json.loads(r.stdout)["problems"] if p["kind"] == "unsafe_path"]
    assert [(p["path"], p["severity"]) for p in unsafe] == [
        (str(repo.tmt_dir / "pins"), "error"), (str(repo.tmt_dir / "gc.lock"), "error")]
    assert unsafe[1]["message"] == (f"{repo.tmt_dir / 'gc.lock'} is a symbolic link (to {tmp_path / 'x'}), where "
                                    "tmt keeps its own file; tmt never follows or writes through it")
    r = invoke("fsck", "--repair")
    assert r.exit_code == 0, r.output
    assert f"  repaired: moved to {repo.tmt_dir / 'quarantine' / 'gc.lock'}\n" in r.output
    assert os.readlink(repo.tmt_dir / "quarantine" / "pins") == str(tmp_path)  # moved as a link
    assert (tmp_path / "x").read_text() == "theirs"
    assert invoke("fsck").exit_code == 0


def test_a_symlinked_index_is_never_opened(tmp_path: Path, project: Path) -> None:
    import sqlite3

    rid = record()
    repo = Repo.find(project)
    (repo.tmt_dir / "index.sqlite").unlink(missing_ok=True)
    other = tmp_path / "other.db"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE precious (x)")
    db.commit()
    db.close()
    before = other.read_bytes()
    os.symlink(other, repo.tmt_dir / "index.sqlite")
    r = subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", "ls", "--json"],
                       capture_output=True, text=True, cwd=project)
    assert r.returncode == 0
    assert [x["id"] for x in json.loads(r.stdout)] == [rid]  # an index in memory serves the query
    assert r.stderr == (f"tmt: warning: {repo.tmt_dir / 'index.sqlite'} is a symbolic link (to {other}), where tmt "
                        "keeps its own file; tmt never follows or writes through it; the query index is kept "
                        "in memory (run `tmt fsck`)\n")
    assert other.read_bytes() == before


def test_an_artifact_loads_without_writing_through_a_linked_cache_folder(tmp_path: Path, project: Path) -> None:
    """Artifact.load made a file named by the record under cache/artifacts/<id>/; a link
    there put it anywhere. The object itself is read instead."""
    with tmt.start_run("a") as run:
        tmt.save({"k": 1}, "cfg", format="json")
    repo = Repo.find(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (repo.tmt_dir / "cache" / "artifacts").mkdir(parents=True, exist_ok=True)
    os.symlink(elsewhere, repo.tmt_dir / "cache" / "artifacts" / run.id)
    art = tmt.get(run.id).artifacts["cfg"]
    assert art.load() == {"k": 1}
    assert elsewhere not in art.path.parents  # the object itself, or (root) a private copy
    assert os.listdir(elsewhere) == []


def test_objects_that_are_not_files_are_corrupt_and_never_block(tmp_path: Path, project: Path) -> None:
    (project / "a.py").write_text("secret = 0\n")
    rid = record()
    repo = Repo.find(project)
    oid = hash_bytes(b"secret = 0\n")
    path = repo.store.path(oid)
    path.unlink()
    os.mkfifo(path)
    (project / "a.py").write_text("changed\n")
    r = invoke("diff", rid)  # the working tree's snapshot stores "changed\n", reads the FIFO object
    assert r.exit_code == 1
    assert r.output == (f"Error: object {oid} is corrupt: it is a FIFO, not a file\n"
                        "hint: run `tmt fsck --repair`\n")
    with pytest.raises(CheckoutError, match="it is a FIFO, not a file"):
        tmt.checkout(rid, tmp_path / "view")
    problems = tmt.fsck().by_kind("corrupt_object")
    assert [p.message for p in problems] == [
        f"object {oid} is corrupt: it is a FIFO, not a file (needed by record {rid} code: a.py)"]


def test_checkout_never_hard_links_or_copies_what_an_object_link_points_to(tmp_path: Path, project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    rid = record()
    repo = Repo.find(project)
    secret = tmp_path / "secret"
    secret.write_text("x = 2\n")  # same size: a tree's size claim would not tell
    secret.chmod(0o600)
    path = repo.store.path(hash_bytes(b"x = 1\n"))
    path.unlink()
    os.symlink(secret, path)
    with pytest.raises(CheckoutError) as e:
        tmt.checkout(rid, tmp_path / "view")
    assert e.value.message == (f"cannot check out a.py: object {hash_bytes(b'x = 1' + bytes([10]))} is corrupt: "
                               "it is a symbolic link, not a file")
    assert not (tmp_path / "view" / "a.py").exists()
    assert os.stat(secret).st_nlink == 1


def test_push_never_uploads_what_a_planted_object_link_points_to(tmp_path: Path, project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    record()
    repo = Repo.find(project)
    secret = tmp_path / "secret"
    secret.write_text("the user's secret\n")
    path = repo.store.path(hash_bytes(b"x = 1\n"))
    path.unlink()
    os.symlink(secret, path)
    share = tmp_path / "share"
    assert invoke("remote", "add", "disk", str(share)).exit_code == 0
    r = invoke("push", "disk")
    assert r.exit_code == 1
    assert f"object {hash_bytes(b'x = 1' + bytes([10]))} is corrupt: it is a symbolic link, not a file" in r.output
    uploaded = [p.read_bytes() for p in share.rglob("*") if p.is_file()]
    assert not any(b"secret" in data for data in uploaded)


# -- trees that expand without bound --------------------------------------------------------


def test_a_tree_bomb_is_refused_by_checkout_and_diff_and_reported_by_fsck(tmp_path: Path, project: Path) -> None:
    repo = Repo.init(project)
    tree = bomb(repo)
    t0 = time.monotonic()
    with pytest.raises(TreeTooLarge) as e:
        materialize(repo.store, tree, tmp_path / "view")
    assert e.value.message == f"tree {tree} expands to more than 10,000,000 paths (max_tree_paths); refusing to walk it"
    assert not (tmp_path / "view").exists()  # refused before anything is written
    with pytest.raises(TreeTooLarge):
        diff_trees(repo.store, None, tree)
    assert time.monotonic() - t0 < 60  # bounds the hang only; each refusal reads 31 trees
    from tmt.records.io import write_record
    from tmt.records.model import Record

    write_record(repo.experiments_dir, repo.tmp_dir, Record(
        id="b" * 32, name="bomb", status="completed", created_at="2026-01-01T00:00:00+00:00",
        code={"root": ".", "tree": tree, "files": 1, "bytes": 6, "git": None}))
    bad = tmt.fsck(repo).by_kind("bad_tree")
    assert [p.message for p in bad] == [f"tree {tree} (record {'b' * 32} code) expands to more than 10,000,000 "
                                        "paths (max_tree_paths): checkout and diff refuse it"]


def test_ordinary_trees_pass_and_the_bound_counts_every_path(project: Path) -> None:
    repo = Repo.init(project)
    tree = bomb(repo, levels=3)  # 2**3 copies of f.py, and the folders above them
    entries = lambda t: __import__("tmt.snapshot.tree", fromlist=["shape"]).shape(  # noqa: E731
        __import__("tmt.snapshot.checkout", fromlist=["read_tree"]).read_tree(repo.store, t))
    assert TreeBounds().expansion(entries, tree) == (2 + 4 + 8 + 8, 8 * 6)
    with pytest.raises(TreeTooLarge, match="more than 21 paths"):
        TreeBounds(max_paths=21).expansion(entries, tree)
    with pytest.raises(TreeTooLarge, match=r"more than 47 bytes \(max_tree_bytes\)"):
        TreeBounds(max_bytes=47).expansion(entries, tree)


# -- the stat cache -------------------------------------------------------------------------


def test_a_damaged_stat_cache_costs_speed_never_a_wrong_record(project: Path) -> None:
    from tmt.snapshot.checkout import walk_tree

    (project / "a.py").write_text("a = 1\n")
    (project / "b.py").write_text("b = 2\n")
    record()
    repo = Repo.find(project)
    cache = next((repo.tmt_dir / "cache").glob("stat-v6-*"))
    data = bytearray(cache.read_bytes())
    data[len(data) - 40] ^= 1  # one flipped bit inside a blob id
    cache.write_bytes(bytes(data))
    bad = tmt.fsck(repo).by_kind("bad_cache")
    assert [p.message for p in bad] == [f"stat cache {cache} is damaged: its checksum does not match its content; "
                                        "it only saves time: `tmt fsck --repair` deletes it"]
    rid = record()
    files = {p: e.oid for p, e in walk_tree(repo.store, tmt.get(rid).code["tree"])}
    assert files == {b"a.py": hash_bytes(b"a = 1\n"), b"b.py": hash_bytes(b"b = 2\n")}


def test_cache_entries_naming_an_object_of_another_size_are_dropped(project: Path) -> None:
    """Even with a valid checksum (written by a buggy tool): once the gc epoch has changed, every
    reused id is checked, by presence and by size."""
    from tmt.snapshot import statcache
    from tmt.snapshot.checkout import walk_tree

    (project / "a.py").write_text("a = 1\n")
    (project / "b.py").write_text("bb = 22\n")
    time.sleep(0.2)  # past the racy window (100 ms) of their ctime: the cache keeps them
    record()
    repo = Repo.find(project)
    path = next((repo.tmt_dir / "cache").glob("stat-v6-*"))
    cache = statcache.StatCache.load(repo.tmt_dir / "cache", str(project))
    entries = dict(cache.dirs[b""][4])
    (ka, oa), (kb, ob) = entries[b"a.py"], entries[b"b.py"]
    dirs = dict(cache.dirs)
    info = list(dirs[b""])
    info[4] = {**entries, b"a.py": (ka, ob), b"b.py": (kb, oa)}  # two ids swapped
    info[0] = None  # no tree id to reuse: the entries are what counts
    dirs[b""] = tuple(info)
    cache.dirs = dirs
    cache.save(repo.tmt_dir / "cache", repo.tmp_dir)
    repo.store.bump_epoch()  # as any gc does
    assert "2 entries name objects of another size" in statcache.disagreement(
        path, lambda o: repo.store.stat(o).st_size if repo.store.has(o) else None, None)
    rid = record()
    files = {p: e.oid for p, e in walk_tree(repo.store, tmt.get(rid).code["tree"])}
    assert files == {b"a.py": hash_bytes(b"a = 1\n"), b"b.py": hash_bytes(b"bb = 22\n")}


# -- writers beside gc ------------------------------------------------------------------------


def test_gc_keeps_another_hosts_temp_file_while_its_writer_pins(project: Path) -> None:
    from tmt.maintenance.gc import stale_tmp_files

    repo = Repo.init(project)
    old = time.time() - 3 * 86400  # older than any skew: only the pin can say it is live
    live, dead = repo.tmp_dir / "otherhost_4242-aaaa", repo.tmp_dir / "otherhost_4343-bbbb"
    for p in (live, dead):
        p.write_bytes(b"partial")
        os.utime(p, (old, old))
    (repo.tmt_dir / "pins").mkdir(exist_ok=True)
    (repo.tmt_dir / "pins" / "otherhost_4242_00000000.pin").write_bytes(b"\0" * 32)  # appended to just now
    assert stale_tmp_files(repo.tmp_dir, 0) == [dead]


def test_fsck_beside_rm_and_gc_reports_no_missing_objects(project: Path) -> None:
    """A record read at the start of fsck, then removed and its objects collected while fsck
    hashes: not a missing object (this was 7 false errors in 32 fscks beside writers)."""
    from tmt.maintenance import fsck, gc

    (project / "a.py").write_text("a = 1\n")
    keep = record("keep")
    (project / "a.py").write_text("a = 2\n")
    doomed = record("doomed")
    repo = Repo.find(project)
    done = []

    def progress(phase: str, n: int, total: int) -> None:
        if phase == "hash" and not done:  # records are read; objects being hashed
            done.append(1)
            tmt.query.remove([doomed], repo=repo)
            gc(repo, grace=0)

    result = fsck(repo, progress=progress)
    assert done and result.ok, [p.message for p in result.problems]
    assert tmt.get(keep)


# -- what is printed --------------------------------------------------------------------------


def test_escapes_in_names_never_reach_the_terminal_coloured_or_not(project: Path) -> None:
    import re

    evil = "x\x1b]52;c;cHduZWQ=\x07\x1b[2J\x9bm\u202e"
    rid = record(evil, tags=[evil], params={evil: evil})
    for env in ({}, {"FORCE_COLOR": "1", "NO_COLOR": ""}):
        for args in (["ls"], ["show", rid], ["ls", "--json"], ["export"], ["rm", rid[:6] + "zz"], ["show", evil]):
            r = invoke(*args, env=env)
            text = re.sub(r"\x1b\[[0-9;]*m", "", r.output)  # the colours rich adds are tmt's own
            assert all(c == "\n" or c.isprintable() for c in text), (args, env, r.output)
    assert "x\\x1b]52;c;cHduZWQ=\\x07\\x1b[2J\\x9bm\\u202e" in invoke("show", rid).output


def test_a_non_utf8_reference_or_filter_is_an_error_not_a_traceback(project: Path) -> None:
    record()
    bad = os.fsdecode(b"caf\xe9")
    with pytest.raises(UnknownRef) as e:
        tmt.get(bad)
    assert e.value.hint == "this reference has bytes that are not UTF-8 text; run names are UTF-8"
    r = invoke("ls", "--tag", bad)
    assert r.exit_code == 2
    assert r.output == ("Error: 'caf\\xe9' is not UTF-8 text\n"
                        "hint: names, tags, keys and values in tmt are UTF-8; this argument has other bytes\n")


def test_a_run_from_a_non_utf8_folder_with_non_utf8_arguments_is_recorded(tmp_path: Path, monkeypatch) -> None:
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9"))
    folder.mkdir()
    (folder / os.fsdecode(b"f\xff.py")).write_text("x = 1\n")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "argv", ["train.py", os.fsdecode(b"--name=\xfe")])
    with tmt.start_run(os.fsdecode(b"run\xfd"), params={"p": os.fsdecode(b"\xfc")}) as run:
        run.log({os.fsdecode(b"loss\xfb"): 1.0})
    got = tmt.get("last")
    assert (got.name, got.params, got.env["argv"]) == ("run\\xfd", {"p": "\\xfc"}, ["train.py", "--name=\\xfe"])
    assert got.series_names == ["loss\\xfb"]
    r = invoke("show", "last")
    assert r.exit_code == 0 and "run\\xfd" in r.output


def test_integers_beyond_float_range_are_recorded_and_compared(project: Path, capsys) -> None:
    with tmt.start_run("big", params={"n": 10**5000}) as run:  # JSON cannot hold 5,000 digits
        run.metrics.update({"huge": 10**400, "wide": 2**70, "f1": 0.9})
    assert capsys.readouterr().err == ("tmt: warning: metric 'huge' is an integer beyond the float range; "
                                       "it is recorded as inf\n")
    got = tmt.get("big")
    assert got.record.metrics == {"huge": float("inf"), "wide": 2**70, "f1": 0.9}
    assert got.params == {"n": "<an integer of 16610 bits>"}
    assert [r.id for r in tmt.runs(where=["wide > 1e20"])] == [got.id]
    assert tmt.runs().best("wide").id == got.id
    other = record("small")
    r = invoke("diff", other, got.id, "--no-code")
    assert r.exit_code == 0, r.output
    assert "1180591620717411303424" in r.output


def test_saving_what_pickle_refuses_is_a_recording_error(project: Path) -> None:
    import threading

    with tmt.start_run("s"):
        with pytest.raises(RecordingError) as e:
            tmt.save(threading.Lock(), "lock")
    assert e.value.message == "cannot save 'lock': it cannot be pickled (TypeError: cannot pickle '_thread.lock' object)"
    assert e.value.hint == ("save what can be pickled (e.g. a model's state_dict), or pass custom_save=your_saver; "
                            "arrays and plain values can use format='numpy' or format='json'")
    assert tmt.get("s").status == "completed"  # the run itself goes on


# -- tmt's own outputs respect the user's files -------------------------------------------------


@pytest.fixture
def one_run(project: Path) -> str:
    return record()


def test_export_keeps_an_existing_files_mode(one_run, project: Path) -> None:
    out = project / "runs.csv"
    out.write_text("old")
    out.chmod(0o600)
    assert invoke("export", "-o", "runs.csv").exit_code == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and out.read_text().startswith("id,name")


def test_export_writes_into_a_fifo_a_device_and_a_links_target(one_run, project: Path) -> None:
    target = project / "real.csv"
    target.write_text("")
    os.symlink("real.csv", project / "link.csv")
    assert invoke("export", "-o", "link.csv").exit_code == 0
    assert os.readlink(project / "link.csv") == "real.csv" and target.read_text().startswith("id,name")
    os.mkfifo(project / "pipe")
    reader = subprocess.Popen(["cat", str(project / "pipe")], stdout=subprocess.PIPE)
    assert invoke("export", "-o", "pipe").exit_code == 0
    assert reader.communicate(timeout=60)[0].startswith(b"id,name")
    assert stat.S_ISFIFO(os.lstat(project / "pipe").st_mode)
    assert invoke("export", "-o", os.devnull).exit_code == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    r = subprocess.run([sys.executable, "-c", "from tmt.cli import main; main()", "export", "-o", "/dev/stdout"],
                       capture_output=True, text=True, cwd=project)
    assert r.returncode == 0 and r.stdout.startswith("id,name"), r.stderr
    assert r.stderr == "Exported 1 run to /dev/stdout\n"


def test_export_creates_no_missing_folder(one_run, project: Path) -> None:
    r = invoke("export", "-o", "no/such/runs.csv")
    assert r.exit_code == 1
    assert r.output == ("Error: cannot write no/such/runs.csv: No such file or directory\n"
                        f"hint: check that the folder {project / 'no' / 'such'} exists and that you may write to it\n")
    assert not (project / "no").exists()


# -- a store shared by a group ----------------------------------------------------------------


def test_a_group_shared_store_gives_every_new_file_the_groups_permissions(project: Path) -> None:
    """`chmod g+ws .tmt` and a member whose umask is 022: what tmt creates stays writable by the
    group (the index was 0644, and every other member's queries failed)."""
    (project / ".tmt").mkdir()
    os.chmod(project / ".tmt", 0o2775)  # what the group's admin did
    script = ("import os, tmt; os.umask(0o022)\n"
              "with tmt.start_run('shared') as run:\n    run.log({'loss': 1.0}); run.save([1], 'obj')\n"
              "tmt.runs(); tmt.gc(grace=0)\n")
    (project / "a.py").write_text("x = 1\n")
    subprocess.run([sys.executable, "-c", script], cwd=project, check=True)
    repo = Repo.find(project)
    for rel in ("index.sqlite", "experiments", "objects", "pins", "journal", "cache"):
        mode = os.lstat(repo.tmt_dir / rel).st_mode
        assert mode & 0o060 == 0o060, (rel, oct(mode))
    for fan in (repo.tmt_dir / "objects").iterdir():
        assert fan.stat().st_mode & 0o070 == 0o070, fan
        assert all(stat.S_IMODE(o.stat().st_mode) == 0o444 for o in fan.iterdir())  # objects stay read-only
    rec = next((repo.tmt_dir / "experiments").iterdir())
    assert rec.stat().st_mode & 0o060 == 0o060


def test_a_sparse_legacy_database_is_refused_unread(project: Path) -> None:
    """A 3 GiB sparse tmt_db.json (a few bytes in a tarball) is refused before it is read."""
    (project / ".tmt").mkdir()
    with open(project / ".tmt" / "tmt_db.json", "wb") as f:
        f.truncate(3 << 30)
    r = invoke("migrate", "--dry-run")
    assert r.exit_code == 1, r.output
    assert "tmt_db.json is larger than 256 MiB: not a tmt 0.1.8 database tmt can read" in r.output
    assert "hint: move it away if it is not one" in r.output


def test_a_journal_is_read_frame_by_frame_up_to_its_bound(project: Path, monkeypatch, capsys) -> None:
    from tmt.records import series

    with tmt.start_run("live") as run:
        for i in range(20):
            run.log({"loss": float(i)}, step=i)
        frames = series.journal_path(run.repo.tmt_dir, run.id).read_bytes()
        assert len(series.read_journal(run.repo.tmt_dir, run.id)["loss"].values) == 20
        monkeypatch.setattr(series, "MAX_JOURNAL_BYTES", len(frames) // 2)
        monkeypatch.setattr(os, "fstat", lambda fd, real=os.fstat: os.stat_result(
            (*real(fd)[:6], 3 << 30, *real(fd)[7:])))
        half = series.read_journal(run.repo.tmt_dir, run.id)["loss"].values
        monkeypatch.undo()
    assert 0 < len(half) < 20 and half == [float(i) for i in range(len(half))]
    assert f"journal/{run.id}.log is larger than {len(frames) // 2} B: only its first {len(frames) // 2} B of steps is read" \
        in capsys.readouterr().err


@pytest.mark.parametrize("value", ['"99999999999999999999999 TiB"', "99999999999999999999999", '"1e300"'])
def test_a_byte_count_beyond_any_file_is_a_usage_error(project: Path, value: str) -> None:
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text(f"max_file_size = {value}\n")
    with pytest.raises(UsageError) as e:
        Repo(repo.tmt_dir).config
    assert e.value.message == f"{repo.tmt_dir / 'config.toml'}: max_file_size must be a byte count like 10485760 or '10MiB'"


def test_an_error_a_program_sees_never_drives_its_terminal(project: Path) -> None:
    """The exception a decorated function's caller gets quotes store strings escaped."""
    repo = Repo.init(project)
    (repo.tmt_dir / "config.toml").write_text('code_root = "\\u001b]0;PWN\\u0007"\n')

    @tmt.recorder(name="r")
    def f() -> None:
        pass

    with pytest.raises(tmt.errors.TmtError) as e:
        f()
    assert str(e.value) == f"code root {project}/\\x1b]0;PWN\\x07 is not a directory"
    assert str(e.value).isprintable()


def test_dates_beyond_the_calendar_show_as_dates(project: Path) -> None:
    from tmt._units import format_age

    assert format_age("0001-01-01T00:00:00+14:00") == "0001-01-01"
    assert format_age("9999-12-31T23:59:59-14:00") == "9999-12-31"
    assert format_age(1e20) == "-"


def test_a_path_too_long_for_the_file_system_is_a_message_not_a_bug_report(project: Path, tmp_path: Path) -> None:
    rid = record()
    r = invoke("checkout", rid, "-o", str(tmp_path / ("x" * 300)))
    assert r.exit_code == 1
    assert r.output.splitlines()[-1] == "hint: the path is longer than this file system allows: choose a shorter target folder"
