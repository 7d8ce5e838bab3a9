"""Whether a path is left out by one side's rules, asked by in-place checkout.

A snapshot decides while it walks; a checkout asks about single paths afterwards, for two
sides: the working tree (its ignore files on disk) and the run it restores (the ignore files
its tree holds). Both apply what the snapshot applies: `.tmt/` and `.git/`, the built-in
excludes (tmt.snapshot.ignore.BUILTIN_DIRS, folders holding ENV_MARKERS) unless the user's
rules re-include them, then the user's ignore files; a path below a left-out folder is left
out. Not on any hot path: each folder's rules are read once per checkout.
"""
from __future__ import annotations

import os
import stat as statmod
from collections.abc import Callable

from tmt.snapshot import tree as treemod
from tmt.snapshot.ignore import (
    ALWAYS_IGNORED, BUILTIN_DIRS, ENV_MARKERS, IGNORE_FILES, Rules, is_ignored, parse_rules, read_ignore_file,
    reincluded,
)
from tmt.store.ids import ObjectId
from tmt.store.objects import ObjectStore

#: a folder's (ignore files as (name, bytes), child names), or None where there is no folder
Listing = tuple[list[tuple[str, bytes]], frozenset[bytes]] | None
_OUT = None  # a folder's stack when the folder itself is left out


class SideRules:
    """The rules of one side; `ignored(path)` for a file path relative to the code root."""

    def __init__(self, listdir: Callable[[bytes], Listing]) -> None:
        self._listdir = listdir
        self._stacks: dict[bytes, list[Rules] | None] = {}

    def ignored(self, path: bytes) -> bool:
        stack = self._folder_stack(path)
        if stack is _OUT:
            return True
        if path.rsplit(b"/", 1)[-1] in ALWAYS_IGNORED:
            return True
        return bool(stack) and is_ignored(stack, os.fsdecode(path))

    def in_left_out_folder(self, path: bytes) -> bool:
        """Whether a folder above `path` is left out (a venv, `__pycache__`, an ignored
        folder): a checkout writes nothing new there, whatever the run's tree holds."""
        return self._folder_stack(path) is _OUT

    def _folder_stack(self, path: bytes) -> list[Rules] | None:
        stack = self._stack(b"", [])
        rel = b""
        for part in path.split(b"/")[:-1]:
            if stack is _OUT:
                return _OUT
            rel += part + b"/"
            stack = self._stack(rel, stack)
        return stack

    def _stack(self, rel: bytes, parent: list[Rules]) -> list[Rules] | None:
        if rel in self._stacks:
            return self._stacks[rel]
        stack: list[Rules] | None = parent
        name = rel[:-1].rsplit(b"/", 1)[-1]
        text = os.fsdecode(rel)
        if rel and (
            name in ALWAYS_IGNORED
            or (name in BUILTIN_DIRS and not reincluded(parent, text))
            or (parent and is_ignored(parent, text))
        ):
            stack = _OUT
        else:
            listing = self._listdir(rel)
            if listing is not None:
                files, names = listing
                if rel and not ENV_MARKERS.isdisjoint(names) and not reincluded(parent, text):
                    stack = _OUT
                else:
                    rules = parse_rules(files, text, parent[-1].sig if parent else b"") if files else None
                    if rules is not None:
                        stack = [*parent, rules]
        self._stacks[rel] = stack
        return stack


def disk_rules(root: str | os.PathLike[str]) -> SideRules:
    """The working tree's rules, read from the files now on disk."""
    base = os.fsencode(os.path.abspath(root))

    def listdir(rel: bytes) -> Listing:
        path = os.path.join(base, rel) if rel else base
        try:
            if not statmod.S_ISDIR(os.lstat(path).st_mode):
                return None
            names = frozenset(os.listdir(path))
        except OSError:
            return None
        files = [(n, raw) for n in IGNORE_FILES if (raw := read_ignore_file(path, n)) is not None]
        return files, names

    return SideRules(listdir)


def tree_rules(store: ObjectStore, tree: ObjectId) -> SideRules:
    """A stored tree's rules: the ignore files it holds (a symlink among them is not read)."""
    trees: dict[bytes, list[treemod.TreeEntry] | None] = {}

    def entries(rel: bytes) -> list[treemod.TreeEntry] | None:
        if rel not in trees:
            if not rel:
                trees[rel] = treemod.decode_tree(store.get(tree), tree)
            else:
                parent_rel, _, name = rel[:-1].rpartition(b"/")
                parent = entries(parent_rel + b"/" if parent_rel else b"")
                sub = next((e for e in parent or () if e.name == name and e.kind == treemod.TREE), None)
                trees[rel] = treemod.decode_tree(store.get(sub.oid), sub.oid) if sub is not None else None
        return trees[rel]

    def listdir(rel: bytes) -> Listing:
        found = entries(rel)
        if found is None:
            return None
        by_name = {e.name: e for e in found}
        files = []
        for n in IGNORE_FILES:
            e = by_name.get(os.fsencode(n))
            if e is not None and e.kind in (treemod.FILE, treemod.EXEC):
                files.append((n, store.get(e.oid)))
        return files, frozenset(by_name)

    return SideRules(listdir)
