"""tmt diff is a patch that the real `git apply` applies: modes, empty files, renames, binaries."""
from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from cli_helpers import invoke, make_run

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

LINES = "".join(f"line {i} of a file that moves\n" for i in range(40)).encode()


@pytest.fixture
def two(repo):
    root = Path(repo.root)
    files = {"src/keep.py": b"a\nb\nc\n", "src/old_name.py": LINES, "gone.txt": b"x", "exact_old.txt": b"same\n",
             "data.bin": b"\x00\x01\x02", "run.sh": b"echo\n", "win.txt": b"crlf\r\nline\r\n",
             "nonl.txt": b"no newline", "with space.txt": b"s\n", "empty_gone": b""}
    a = make_run(repo, 1, "a", files=files, metrics={"f1": 0.5})
    (root / "src/old_name.py").rename(root / "src/new_name.py")
    (root / "src/new_name.py").write_bytes(LINES.replace(b"line 7 ", b"LINE 7 "))
    for name in ("gone.txt", "empty_gone"):
        (root / name).unlink()
    (root / "exact_old.txt").rename(root / "exact_new.txt")
    os.chmod(root / "run.sh", 0o755)
    os.symlink("src/keep.py", root / "link")
    b = make_run(repo, 2, "b", files={"data.bin": b"\x00\x01\x03\x04", "win.txt": b"crlf\r\nLINE\r\n",
                                       "nonl.txt": b"no newline!", "caf\u00e9.txt": "\u00e9\n".encode(),
                                       "empty_new": b"", "with space.txt": b"s\nt\n"},
                 metrics={"f1": 0.75})
    return a, b


def tree(folder: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).as_posix()
        if rel == ".git" or rel.startswith(".git/") or p.is_dir() and not p.is_symlink():
            continue
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        else:
            out[rel] = ("x" if os.stat(p).st_mode & stat.S_IXUSR else "f", p.read_bytes())
    return out


def apply(repo, tmp_path: Path, patch: bytes, name: str = "w") -> Path:
    """Run A's code, as writable files in a fresh git work tree, with `patch` applied by git."""
    import tmt

    view = tmp_path / f"{name}-view"
    tmt.get("a", repo=repo.root).checkout(view)
    work = tmp_path / name
    shutil.copytree(view, work, symlinks=True)
    for p in work.rglob("*"):
        if not p.is_symlink():
            os.chmod(p, os.stat(p).st_mode | stat.S_IWUSR)
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    r = subprocess.run(["git", "apply", "--whitespace=nowarn", "-"], cwd=work, input=patch, capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    return work


def test_git_apply_turns_run_a_into_run_b(repo, two, tmp_path):
    import tmt

    r = invoke("diff", "a", "b", "--code")
    assert r.exit_code == 0, r.stderr
    patch = r.stdout_bytes
    work = apply(repo, tmp_path, patch)
    tmt.get("b", repo=repo.root).checkout(tmp_path / "b-view")
    assert tree(work) == tree(tmp_path / "b-view")
    # the default output (params and metrics tables after the patch) applies too
    full = invoke("diff", "a", "b").stdout_bytes
    assert full.startswith(patch) and b"\nmetrics:\n" in full
    assert tree(apply(repo, tmp_path, full, "w2")) == tree(tmp_path / "b-view")


def test_patch_headers_are_gits(repo, two):
    text = invoke("diff", "a", "b", "--code").stdout
    assert ("diff --git a/empty_gone b/empty_gone\n"
            "deleted file mode 100644\n"
            "index e69de29..0000000\n"
            "diff --git a/empty_new b/empty_new\n"
            "new file mode 100644\n"
            "index 0000000..e69de29\n") in text
    assert ("diff --git a/exact_old.txt b/exact_new.txt\n"
            "similarity index 100%\n"
            "rename from exact_old.txt\n"
            "rename to exact_new.txt\n") in text
    assert ("diff --git a/run.sh b/run.sh\n"
            "old mode 100644\n"
            "new mode 100755\n") in text
    assert ("diff --git a/src/old_name.py b/src/new_name.py\n"
            "similarity index 97%\n"
            "rename from src/old_name.py\n"
            "rename to src/new_name.py\n"
            "index 6cc8f25..aba9b62 100644\n"  # git hash-object of the two files
            "--- a/src/old_name.py\n"
            "+++ b/src/new_name.py\n") in text
    assert ('diff --git "a/caf\\303\\251.txt" "b/caf\\303\\251.txt"\n'
            "new file mode 100644\n") in text
    assert "--- a/with space.txt\t\n+++ b/with space.txt\t\n" in text
    assert "diff --git a/data.bin b/data.bin\nindex " in text and "\nGIT binary patch\nliteral 4\n" in text
    raw = invoke("diff", "a", "b", "--code").stdout_bytes
    assert b" crlf\r\n-line\r\n+LINE\r\n" in raw  # the file's own bytes, piped


def test_stat_json_and_terminal_forms(repo, two):
    r = invoke("diff", "a", "b", "--stat")
    assert "src/old_name.py => src/new_name.py  renamed   +1 -1\n" in r.stdout
    assert "exact_old.txt => exact_new.txt      renamed   +0 -0\n" in r.stdout
    files = {f["path"]: f for f in json.loads(invoke("diff", "a", "b", "--json").stdout)["files"]}
    assert (files["src/new_name.py"]["status"], files["src/new_name.py"]["old_path"],
            files["src/new_name.py"]["similarity"]) == ("renamed", "src/old_name.py", 97)
    # --no-binary (the default on a terminal): the note instead of the binary patch
    text = invoke("diff", "a", "b", "--code", "--no-binary").stdout
    assert "diff --git a/data.bin b/data.bin\nindex 8352675..ef2caff 100644\nBinary files a/data.bin and b/data.bin differ\n" in text
    r = invoke("diff", "a", "b", "--code", "--no-code")
    assert r.exit_code == 2 and r.stderr == "Error: --code and --no-code exclude each other\nhint: pick one\n"


def test_code_prints_nothing_without_changes(repo, two):
    assert invoke("diff", "a", "a", "--code").stdout == ""
    assert invoke("diff", "a", "a").stdout.startswith("No code changes between run 11111111 (a) and run 11111111 (a).")


def test_package_versions_that_differ(repo):
    from tmt.records.io import write_record

    a = make_run(repo, 1, "a")
    b = make_run(repo, 2, "b")
    a.env["packages"] = {"numpy": "1.26.4", "scikit-learn": "1.4.0", "click": "8.1.7"}
    b.env["packages"] = {"numpy": "2.1.0", "scikit-learn": "1.4.0", "torch": "2.3.0"}
    for rec in (a, b):
        write_record(repo.experiments_dir, repo.tmp_dir, rec)
    r = invoke("diff", "a", "b", "--no-code")
    assert r.stdout.endswith("packages:\n"
                             "package  a: 11111111  b: 22222222\n"
                             "click          8.1.7            -\n"
                             "numpy         1.26.4        2.1.0\n"
                             "torch              -        2.3.0\n")
    assert json.loads(invoke("diff", "a", "b", "--json").stdout)["packages"] == [
        {"name": "click", "a": "8.1.7", "b": None}, {"name": "numpy", "a": "1.26.4", "b": "2.1.0"},
        {"name": "torch", "a": None, "b": "2.3.0"}]
