"""The snapshot's pre-pass (tmt/snapshot/precheck.py): folders vouched for by the stat cache's
flat check, sequentially or with half the tree checked by a forked child, give exactly the
tree and the cache the walk gives; a failing child changes nothing; a threaded process does
not fork; the child never prints what the parent buffered."""
from __future__ import annotations

import os
import signal
import subprocess
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmt.snapshot import precheck
from tmt.snapshot.build import snapshot
from tmt.snapshot.statcache import ENTRIES, StatCache, _columns
from tmt.store.objects import ObjectStore

from test_snapshot import make, settle

FOLDERS = ["", "a/", "a/b/", "c/", "c/d/e/", "env/"]


def zombies() -> list[int]:
    """This process's children that have exited without being reaped."""
    me = str(os.getpid())
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] == "Z":
                out.append(int(pid))
    return out


def cache_state(cache_dir: Path, root: Path) -> tuple:
    c = StatCache.load(cache_dir, str(root.absolute()))
    return {rel: _columns(info) for rel, info in c.dirs.items()}, c.rules, c.settings, c.check


def forked(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """The two-process check forced on or off in this process. (The gate itself, in fresh
    processes, below: this one may hold a thread an earlier test started, such as the
    recorder's fsync thread, and forking it is safe only because the child takes no lock.)"""
    monkeypatch.setattr(precheck, "may_fork", lambda files: on)


def new_store(path: Path) -> ObjectStore:
    """A store with a gc epoch (as `tmt init` makes it): only then is the cache trusted."""
    store = ObjectStore(path)
    store.bump_epoch()
    return store


def snap(root: Path, store: ObjectStore, cache: Path) -> str:
    return snapshot(root, store, cache_dir=cache, warn=lambda m: None).tree


@st.composite
def changes(draw):
    """A tree, then a few changes to it (and a few more for a third snapshot)."""
    files = {}
    for _ in range(draw(st.integers(3, 14))):
        folder = draw(st.sampled_from(FOLDERS))
        files[folder + draw(st.sampled_from(["x.py", "y.txt", "z.log", "w"]))] = draw(st.sampled_from(["", "1", "22"]))
    if draw(st.booleans()):
        files[".gitignore"] = draw(st.sampled_from(["*.log\n", "c/\n", "!z.log\n*.txt\n", "b\n"]))
    if draw(st.booleans()):
        files["env/pyvenv.cfg"] = "home = /usr\n"
    ops = st.tuples(st.sampled_from(["edit", "grow", "add", "delete", "touch", "chmod", "rules", "mkdir", "rmdir"]),
                    st.sampled_from(FOLDERS), st.sampled_from(["x.py", "y.txt", "z.log", "v.py"]))
    return files, draw(st.lists(ops, min_size=1, max_size=4)), draw(st.lists(ops, max_size=3))


def apply(root: Path, ops: list[tuple[str, str, str]]) -> None:
    for op, folder, name in ops:
        d = root / folder
        p = d / name
        if op == "add" or (op in ("edit", "grow", "touch", "chmod") and not p.is_file()):
            make(root, {folder + name: "new"})
        elif op == "edit":
            p.write_bytes(b"E" * len(p.read_bytes()))  # same size
        elif op == "grow":
            p.write_bytes(p.read_bytes() + b"+")
        elif op == "delete" and p.is_file():
            p.unlink()
        elif op == "touch":
            os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns - 10**9))
        elif op == "chmod":
            p.chmod(p.stat().st_mode ^ 0o100)
        elif op == "rules":
            make(root, {folder + ".gitignore": f"{name}\n"})
        elif op == "mkdir":
            make(root, {folder + "new/" + name: "n"})
        elif op == "rmdir" and (d / "new").is_dir():
            for f in (d / "new").iterdir():
                f.unlink()
            (d / "new").rmdir()


MODES = ("walk only", "sequential", "forked")
VOUCHED = precheck.vouched


def mode(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """How the snapshot checks its cache: no pre-pass at all (the walk replays every folder,
    as before the pre-pass existed), the pre-pass in this process, or half of it forked."""
    forked(monkeypatch, name == "forked")
    if name == "walk only":
        monkeypatch.setattr(precheck, "vouched", lambda section: (set(), False))
    else:
        monkeypatch.setattr(precheck, "vouched", VOUCHED)


@pytest.mark.slow
@settings(max_examples=25)
@given(changes())
def test_the_pre_pass_forked_or_not_gives_the_walks_trees_and_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, case
) -> None:
    files, first, second = case
    base = tmp_path_factory.mktemp("precheck")
    root = make(base / "code", files)
    stores = {m: new_store(base / f"store-{m}") for m in MODES}
    caches = {m: base / f"cache-{m}" for m in MODES}
    rounds = 0

    def each() -> None:
        """A snapshot in each mode: the same tree as a fresh one, the same cache bytes (every
        change is settled first: what is racily clean would depend on when each walk started)."""
        nonlocal rounds
        rounds += 1
        trees = set()
        for m in MODES:
            mode(monkeypatch, m)
            trees.add(snap(root, stores[m], caches[m]))
        assert len(trees) == 1
        states = [cache_state(caches[m], root) for m in MODES]
        assert states[0] == states[1] == states[2]
        assert trees == {snap(root, ObjectStore(base / f"fresh{rounds}"), base / f"c{rounds}")}

    settle()
    each()  # no cache yet
    each()  # every folder with a plan
    forks = precheck.forks
    each()  # unchanged: all vouched
    split = bool(cache_state(caches["forked"], root)[-1][1][0])  # a second part (two folders or more)
    assert precheck.forks == forks + split  # the forked mode forked (and no other did)
    for ops in (first, second):
        apply(root, ops)
        settle()
        each()
        each()
    assert zombies() == []


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, ObjectStore, Path]:
    root = make(tmp_path / "code", {f"{d}f{i}.py": str(i) for d in FOLDERS[:5] for i in range(4)})
    store, cache = new_store(tmp_path / "store"), tmp_path / "cache"
    snap(root, store, cache)
    settle()
    snap(root, store, cache)  # now with plans and the check section
    return root, store, cache


@pytest.mark.parametrize("hook", ["kill", "short", "garbage"])
def test_a_failing_child_changes_nothing(tree, monkeypatch: pytest.MonkeyPatch, hook: str) -> None:
    root, store, cache = tree
    make(root, {"c/d/e/f1.py": "changed"})
    (root / "a/f2.py").unlink()
    settle()
    expected = snapshot(root, ObjectStore(root.parent / "fresh"), cache_dir=None, warn=lambda m: None).tree
    forked(monkeypatch, True)
    hooks = {
        "kill": lambda w: os.kill(os.getpid(), signal.SIGKILL),
        "short": lambda w: (os.write(w, precheck._MAGIC + b"\x01"), os._exit(0)),
        "garbage": lambda w: os.write(w, b"\x07" * 40),
    }
    monkeypatch.setattr(precheck, "child_hook", hooks[hook])
    before = precheck.forks
    assert snap(root, store, cache) == expected
    assert precheck.forks == before + 1
    assert zombies() == []
    state = cache_state(cache, root)
    monkeypatch.setattr(precheck, "child_hook", None)
    assert snap(root, store, cache) == expected and cache_state(cache, root) == state


SCRIPT = """
import os, sys, threading, time
from pathlib import Path
from tmt.snapshot import precheck
precheck.FORK_MIN_FILES = 0
precheck.FORK_NEEDS_IDLE_CPU = False
{setup}
"""


def run_script(python: str, cwd: Path, body: str) -> subprocess.CompletedProcess:
    return subprocess.run([python, "-c", SCRIPT.format(setup=textwrap.dedent(body))], cwd=cwd,
                          capture_output=True, text=True, timeout=120, start_new_session=True)


def test_text_buffered_before_a_decorated_run_is_printed_once(tree, python: str) -> None:
    root, _, _ = tree
    body = """
    import tmt
    @tmt.recorder(name="noop")
    def train():
        pass
    sys.stdout.write("no newline yet")  # stdout is a pipe: this stays in the buffer
    train()
    print("", precheck.forks, file=sys.stderr)
    """
    first = run_script(python, root, body)  # the run's own stat cache (in .tmt) is made
    assert first.returncode == 0, first.stderr
    settle()
    p = run_script(python, root, body)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "no newline yet"
    assert p.stderr.split()[-1] == "1"  # the run's pre-pass forked (the process had no thread yet)


def test_a_threaded_process_does_not_fork_nor_a_large_one_nor_one_reaping_children(tree, python: str) -> None:
    root, _, _ = tree
    body = """
    from tmt.snapshot.build import snapshot
    from tmt.store.objects import ObjectStore
    def snap():
        snapshot(".", ObjectStore("../store"), cache_dir=Path("../cache"), warn=lambda m: None)
        return precheck.forks
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    threaded = snap()
    stop.set()
    t.join()
    while len(os.listdir("/proc/self/task")) > 1:  # the OS thread ends just after join() returns
        time.sleep(0.01)
    alone = snap()
    precheck.FORK_MAX_RSS = 1
    big = snap()
    precheck.FORK_MAX_RSS = 1 << 60
    import signal
    signal.signal(signal.SIGCHLD, lambda *a: None)  # the program reaps its own children
    reaper = snap()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    print(threaded, alone, big, reaper, snap())
    """
    p = run_script(python, root, body)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["0", "1", "1", "1", "2"]


def test_ctrl_c_during_the_check_leaves_no_child(tree, python: str) -> None:
    root, _, _ = tree
    body = """
    import signal
    from tmt.snapshot.build import snapshot
    from tmt.store.objects import ObjectStore
    precheck.child_hook = lambda w: os.killpg(0, signal.SIGINT)  # Ctrl-C: the whole process group
    try:
        snapshot(".", ObjectStore("../store"), cache_dir=Path("../cache"), warn=lambda m: None)
    except KeyboardInterrupt:
        print("interrupted", precheck.forks)
    children = [p for p in os.listdir("/proc") if p.isdigit() and
                open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1] == str(os.getpid())]
    print("children", len(children))
    """
    p = run_script(python, root, body)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["interrupted", "1", "children", "0"]


def dirs_of(result) -> dict:
    """rel -> the folder's DirInfo, its entries as a plain dict (their order is the walk's)."""
    return {rel: (*info[:ENTRIES], dict(info[ENTRIES].items()), *info[ENTRIES + 1:])
            for rel, info in result.dirs.items()}


def test_the_dirs_of_a_vouched_tree_are_the_walks(tree) -> None:
    """SnapshotResult.dirs (what tmt.recorder.gitinfo compares with git's index) are the
    same whether the pre-pass vouched for every folder, some, or none (no cache)."""
    root, store, cache = tree

    def fresh():
        return snapshot(root, new_store(root.parent / "fresh"), cache_dir=None, warn=lambda m: None)

    vouched = snapshot(root, store, cache_dir=cache, warn=lambda m: None)  # every folder vouched for
    assert vouched.hashed == 0 and dirs_of(vouched) == dirs_of(fresh())
    (root / "c/d/e/f2.py").write_text("9")  # same size
    settle()
    some = snapshot(root, store, cache_dir=cache, warn=lambda m: None)  # all but c/d/e/
    assert some.hashed == 1 and dirs_of(some) == dirs_of(fresh())
    assert some.tree == fresh().tree


GIT = "git"


def test_git_dirty_follows_a_tree_the_pre_pass_vouches_for(tmp_path: Path) -> None:
    from tmt.recorder.gitinfo import git_state

    root = make(tmp_path / "code", {"a.py": "1", "pkg/b.py": "2", "pkg/sub/c.py": "3", ".gitignore": "*.log\n"})
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@e"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "one"]):
        subprocess.run([GIT, *args], cwd=root, check=True, env=env, capture_output=True)
    store, cache = new_store(tmp_path / "store"), tmp_path / "cache"
    settle()
    snapshot(root, store, cache_dir=cache, warn=lambda m: None)
    clean = snapshot(root, store, cache_dir=cache, warn=lambda m: None)  # no walk: every folder vouched
    assert clean.hashed == 0 and git_state(root, clean)["dirty"] is False
    (root / "pkg/sub/c.py").write_text("4")  # same size
    settle()
    dirty = snapshot(root, store, cache_dir=cache, warn=lambda m: None)
    assert dirty.hashed == 1 and git_state(root, dirty)["dirty"] is True
