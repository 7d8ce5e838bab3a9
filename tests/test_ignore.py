"""Ignore rules: nested .gitignore files with git's semantics, .tmtignore, .tmt/.git always out.

Real git is the oracle: for each layout, the files a snapshot keeps must be exactly the files
`git ls-files --others --exclude-standard` lists (minus what tmt adds: .tmtignore, .tmt/).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tmt.snapshot.build import snapshot
from tmt.snapshot.checkout import walk_tree
from tmt.store.objects import ObjectStore


def make(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)


def kept(root: Path, store: ObjectStore) -> list[str]:
    res = snapshot(root, store, warn=lambda m: None)
    return sorted(os.fsdecode(p) for p, _ in walk_tree(store, res.tree))


def git_kept(root: Path) -> list[str]:
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    out = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "-z"],
        cwd=root, capture_output=True, check=True,
    ).stdout
    return sorted(os.fsdecode(p) for p in out.split(b"\0") if p)


@pytest.fixture
def store(tmp_path: Path) -> ObjectStore:
    return ObjectStore(tmp_path / "store")


LAYOUT = {
    ".gitignore": "# comment\n*.log\n!keep.log\nbuild/\n/top.txt\ndata\n\\#hash\n",
    "a.log": "", "keep.log": "", "top.txt": "", "#hash": "",
    "build/x.py": "", "sub/build": "",  # 'build/' is for folders only
    "sub/top.txt": "",  # '/top.txt' is anchored at its file's folder
    "sub/.gitignore": "!a2.log\n*.tmp\n/only-here\nlogs/*\n!logs/important\n",
    "sub/a2.log": "", "sub/b.log": "", "sub/x.tmp": "", "sub/only-here": "",
    "sub/deep/only-here": "", "sub/deep/build/y": "",
    "data/z": "", "sub/data": "",
    "logs.log/inner.py": "",  # a folder matching '*.log' is out with all it holds
    "sub/deep/.gitignore": "!*.tmp\n",  # a deeper file overrides a shallower one
    "sub/deep/k.tmp": "",
    "sub/logs/a": "", "sub/logs/important": "",
    "a/b/c.txt": "", "with space/f i.py": "",
}


def test_matches_git(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, LAYOUT)
    got = kept(root, store)
    assert got == [
        ".gitignore", "a/b/c.txt", "keep.log",
        "sub/.gitignore", "sub/a2.log", "sub/build", "sub/deep/.gitignore", "sub/deep/k.tmp",
        "sub/deep/only-here", "sub/logs/important", "sub/top.txt", "with space/f i.py",
    ]
    assert got == git_kept(root)


def test_cannot_reinclude_below_an_excluded_folder(tmp_path: Path, store: ObjectStore) -> None:
    # git: "It is not possible to re-include a file if a parent directory of that file is excluded."
    root = tmp_path / "code"
    make(root, {".gitignore": "out/\n!out/keep.py\n", "out/keep.py": "", "out/.gitignore": "!keep.py\n", "x.py": ""})
    assert kept(root, store) == [".gitignore", "x.py"] == git_kept(root)


def test_tmtignore_adds_to_gitignore(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {
        ".gitignore": "*.pyc\n", ".tmtignore": "notebooks/\n*.csv\n!small.csv\n",
        "a.pyc": "", "a.py": "", "notebooks/n.ipynb": "", "big.csv": "", "small.csv": "",
        "sub/.tmtignore": "local.txt\n", "sub/local.txt": "", "sub/other.txt": "",
    })
    assert kept(root, store) == [
        ".gitignore", ".tmtignore", "a.py", "small.csv", "sub/.tmtignore", "sub/other.txt",
    ]


def test_tmt_and_git_always_out_at_every_level(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {
        ".gitignore": "!.git\n!.tmt\n!.git/\n", "main.py": "",
        ".git/config": "", ".tmt/config.toml": "", ".tmt/objects/ab/cd": "",
        "vendor/lib/.git": "gitdir: ../../.git/modules/lib\n",  # a submodule's .git file
        "vendor/lib/lib.py": "", "vendor/.tmt/x": "", "vendor/.git/HEAD": "",
    })
    assert kept(root, store) == [".gitignore", "main.py", "vendor/lib/lib.py"]


def test_no_ignore_files_keeps_everything(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {"a": "", "b/c": "", ".hidden": "", "empty.gitignore": ""})
    assert kept(root, store) == [".hidden", "a", "b/c", "empty.gitignore"]


def test_comment_only_gitignore(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {".gitignore": "# nothing\n\n   \n", "a.log": ""})
    assert kept(root, store) == [".gitignore", "a.log"]


def test_gitignore_with_non_utf8_bytes(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    root.mkdir()
    (root / ".gitignore").write_bytes(b"caf\xe9.txt\n")
    (root / os.fsdecode(b"caf\xe9.txt")).write_text("x")
    (root / "other.txt").write_text("y")
    assert kept(root, store) == [".gitignore", "other.txt"]


def test_gitignore_that_is_a_folder_is_not_a_rules_file(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {".gitignore/x": "", "a.log": ""})
    assert kept(root, store) == [".gitignore/x", "a.log"]


def test_negated_parent_does_not_reinclude_an_ignored_child(tmp_path: Path, store: ObjectStore) -> None:
    # Regression: pathspec's check_file("c.py/a/") lets "!c.py" (matching the parent) win.
    root = tmp_path / "code"
    make(root, {".gitignore": "a\n!c.py\n", "c.py/a/b.log": "", "c.py/keep": ""})
    assert kept(root, store) == [".gitignore", "c.py/keep"] == git_kept(root)


def test_unanchored_folder_pattern(tmp_path: Path, store: ObjectStore) -> None:
    # Regression: "*/" compiles to the unanchored regex "(?P<ps_d>/)"; the pre-filter used
    # match() and so never applied it.
    root = tmp_path / "code"
    make(root, {".gitignore": "*/\n", "a/x/f": "", "top": ""})
    assert kept(root, store) == [".gitignore", "top"] == git_kept(root)


def test_double_star_inside_keeps_the_folder_for_negations(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {".gitignore": "d/**\n!d/keep\n", "d/keep": "", "d/drop": "", "d/sub/x": ""})
    assert kept(root, store) == [".gitignore", "d/keep"] == git_kept(root)


# -- random rules against git ---------------------------------------------------------------------

NAMES = ["a", "b.log", "c.py", "build", "d"]
PATTERNS = [
    "*.log", "!*.log", "build", "build/", "/build", "!build", "a", "/a", "!a", "*.py", "!c.py",
    "d/", "**/b.log", "d/**", "a/**/c.py", "b*", "!d", "[ab]*", "?.py", "d/a",
    # Not "d/**/": pathspec reads it as "d/" (git: folders inside d only), a known deviation.
    "*/", "!*/", "!d/**", "**", "!a/**", "a/*", "!b.log/", "\\!d",
]


@st.composite
def layouts(draw):
    paths = draw(st.lists(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3), min_size=1, max_size=12))
    files: dict[str, str] = {}
    for parts in paths:
        rel = "/".join(parts)
        # a path cannot be both a file and a folder
        if any(rel.startswith(f + "/") or f.startswith(rel + "/") for f in files):
            continue
        files[rel] = ""
    dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
    for d in ["", *dirs[:3]]:
        lines = draw(st.lists(st.sampled_from(PATTERNS), max_size=4))
        if lines:
            files[(d + "/" if d else "") + ".gitignore"] = "\n".join(lines) + "\n"
    return files


@pytest.mark.slow
@settings(max_examples=40)
@given(layouts())
def test_random_rules_match_git(tmp_path_factory: pytest.TempPathFactory, files: dict[str, str]) -> None:
    base = tmp_path_factory.mktemp("rnd")
    root = base / "code"
    make(root, files)
    store = ObjectStore(base / "store")
    assert kept(root, store) == git_kept(root), files


# -- read the way git reads them -------------------------------------------------------------


def test_invalid_lines_are_skipped_with_one_warning_each_as_git_does(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {".gitignore": "build\\\n!\n*.log\n", "sub/.tmtignore": "x\\\n", "build/a.py": "", "a.log": "",
                "b.py": "", "sub/x": "", "!": ""})
    seen: list[str] = []
    res = snapshot(root, store, warn=seen.append)
    assert seen == [
        ".gitignore:1: skipped 'build\\', which is not a valid pattern (git skips it too)",
        ".gitignore:2: skipped '!', which is not a valid pattern (git skips it too)",
        "sub/.tmtignore:1: skipped 'x\\', which is not a valid pattern (git skips it too)",
    ]
    got = sorted(os.fsdecode(p) for p, _ in walk_tree(store, res.tree))
    assert got == git_kept(root)


def test_a_byte_order_mark_is_skipped(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {"a.tmp": "", "b.py": ""})
    (root / ".gitignore").write_bytes(b"\xef\xbb\xbfa.tmp\n")
    assert kept(root, store) == [".gitignore", "b.py"] == git_kept(root)


def test_a_symlinked_gitignore_is_not_followed(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {"a.tmp": "", "b.py": ""})
    (tmp_path / "rules").write_text("a.tmp\n")
    os.symlink(tmp_path / "rules", root / ".gitignore")
    assert kept(root, store) == [".gitignore", "a.tmp", "b.py"]
    assert git_kept(root) == [".gitignore", "a.tmp", "b.py"]


def test_whitelist_idiom_matches_git(tmp_path: Path, store: ObjectStore) -> None:
    root = tmp_path / "code"
    make(root, {".gitignore": "*\n!*/\n!*.py\n", "a.py": "", "a.txt": "", "pkg/b.py": "", "pkg/c.csv": "",
                "pkg/deep/d.py": "", "data/e.bin": ""})
    assert kept(root, store) == ["a.py", "pkg/b.py", "pkg/deep/d.py"] == git_kept(root)


def test_the_pinned_pathspec_range_is_the_one_these_tests_check() -> None:
    from importlib.metadata import requires, version

    spec = next(r for r in requires("ThatMetricTimeline") if r.startswith("pathspec")).replace(" ", "")
    assert sorted(spec.removeprefix("pathspec").split(",")) == ["<2", ">=1.0"]
    assert 1 <= int(version("pathspec").split(".")[0]) < 2
