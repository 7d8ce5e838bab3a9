"""What changed between two successive runs, and how much each change is to blame for a jump.

At every boundary (run i-1 -> run i) tmt lists the recorded inputs that differ: params
(flattened, `opt.lr`), files of the two code trees, the Python functions whose code
changed in the modified .py files (`tmt.timeline.functions`), and package versions
(`env.packages`, when the runs recorded them). A candidate's score is the share of its
changes that coincide with jumps: a learning rate changed once, exactly where the metric
jumped, scores 1; a seed reseeded at every run scores (jumps / boundaries), near 0, so it
is ranked down without being hidden. A .py file whose edit changed no function (comments,
formatting, docstrings) has its score halved.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tmt.errors import TmtError
from tmt.records.model import flatten
from tmt.timeline.functions import Definition, changed_functions, fingerprints

if TYPE_CHECKING:  # pragma: no cover
    from tmt.repo import Repo
    from tmt.store.ids import ObjectId

KINDS = ("function", "param", "package", "file")  # the order of equal scores: the most specific first
COSMETIC = 0.5  # score factor of a .py edit that changed no definition
#: a param that changes at more than this share of the boundaries is noise (a seed, a run
#: counter), not an input that defines which runs are repeats of each other
VOLATILE_SHARE = 0.5


@dataclass(slots=True)
class Change:
    kind: str  # "param" | "file" | "function" | "package"
    name: str  # param key, file path, "path:qualname", package name
    before: Any = None  # param value, package version; None for files and functions
    after: Any = None
    status: str = "modified"  # "modified" | "added" | "removed"
    note: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind, self.name)


@dataclass(slots=True)
class Cause:
    """A change at a jump's boundary, with its score and how often it changed elsewhere."""

    change: Change
    score: float
    changed_at: int  # boundaries where this candidate changed
    at_jumps: int  # of those, boundaries that are jumps


@dataclass(slots=True)
class RunInputs:
    """What tmt recorded that could explain a run's metric."""

    id: str
    params: dict[str, str]  # flattened key -> canonical JSON of the value
    values: dict[str, Any]  # flattened key -> the value itself
    tree: str | None
    packages: dict[str, str] | None


def canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def packages_of(env: dict[str, Any] | None) -> dict[str, str] | None:
    """`env.packages` as {distribution: version}; None when the run did not record it.

    Accepts a mapping, or a list of {name, version} objects or [name, version] pairs."""
    pk = (env or {}).get("packages")
    if isinstance(pk, dict):
        return {str(k): str(v) for k, v in pk.items()}
    if isinstance(pk, list):
        out = {}
        for item in pk:
            if isinstance(item, dict) and "name" in item:
                out[str(item["name"])] = str(item.get("version"))
            elif isinstance(item, (list, tuple)) and len(item) == 2:
                out[str(item[0])] = str(item[1])
        return out
    return None


def inputs_of(record) -> RunInputs:
    values = flatten(record.params or {})
    code = record.code or {}
    tree = code.get("tree") if isinstance(code.get("tree"), str) else None
    return RunInputs(record.id, {k: canon(v) for k, v in values.items()}, values, tree, packages_of(record.env))


class _TreeCache:
    """The store as diff_trees reads it, each tree object read once per analysis."""

    def __init__(self, store) -> None:
        self._store = store
        self._cache: dict[str, bytes] = {}

    def get(self, oid, **kw) -> bytes:
        data = self._cache.get(oid)
        if data is None:
            data = self._cache[oid] = self._store.get(oid, **kw)
        return data


class Differ:
    """Changes between the inputs of two runs; trees and parsed sources cached across calls."""

    def __init__(self, repo: "Repo") -> None:
        self.repo = repo
        self._trees = _TreeCache(repo.store)
        self._prints: dict[str, dict[str, Definition] | None] = {}
        self.problems: list[str] = []

    def changes(self, a: RunInputs, b: RunInputs) -> list[Change]:
        out = [Change("param", k, a.values.get(k), b.values.get(k),
                      "added" if k not in a.params else "removed" if k not in b.params else "modified")
               for k in sorted(a.params.keys() | b.params.keys()) if a.params.get(k) != b.params.get(k)]
        out += self._code_changes(a, b)
        if a.packages is not None and b.packages is not None and a.packages != b.packages:
            for name in sorted(a.packages.keys() | b.packages.keys()):
                va, vb = a.packages.get(name), b.packages.get(name)
                if va != vb:
                    out.append(Change("package", name, va, vb,
                                      "added" if va is None else "removed" if vb is None else "modified"))
        return out

    def _code_changes(self, a: RunInputs, b: RunInputs) -> list[Change]:
        if a.tree == b.tree or a.tree is None or b.tree is None:
            return []
        from tmt.snapshot.diff import diff_trees

        try:
            changes = diff_trees(self._trees, a.tree, b.tree)  # type: ignore[arg-type]
        except TmtError as e:
            self.problems.append(f"code of runs {a.id[:8]} and {b.id[:8]} not compared: {e.message}")
            return []
        out: list[Change] = []
        for c in changes:
            path = os.fsdecode(c.path)
            fc = Change("file", path, status=c.status)
            out.append(fc)
            if c.status != "modified" or not path.endswith(".py") or c.old is None or c.new is None:
                continue  # (a modified file has both sides)
            old, new = self._fingerprints(c.old.oid), self._fingerprints(c.new.oid)
            if old is None or new is None:
                continue
            funcs = changed_functions(old, new)
            if not funcs:
                fc.note = "comments or formatting only"
            out.extend(Change("function", f"{path}:{q}", status=s) for q, s in funcs)
        return out

    def _fingerprints(self, oid: ObjectId) -> dict[str, Definition] | None:
        if oid not in self._prints:
            try:
                self._prints[oid] = fingerprints(self.repo.store.get(oid))
            except TmtError:
                self._prints[oid] = None
        return self._prints[oid]


def volatile_params(inputs: Sequence[RunInputs]) -> set[str]:
    """Params that change at more than VOLATILE_SHARE of the boundaries (seeds, counters)."""
    n = len(inputs) - 1
    if n < 2:
        return set()
    counts: dict[str, int] = {}
    for a, b in zip(inputs, inputs[1:]):
        for k in a.params.keys() | b.params.keys():
            if a.params.get(k) != b.params.get(k):
                counts[k] = counts.get(k, 0) + 1
    return {k for k, c in counts.items() if c > VOLATILE_SHARE * n}


def repeat_groups(inputs: Sequence[RunInputs], volatile: set[str]) -> list[str]:
    """A key per run: runs with equal keys had the same inputs (noise apart)."""
    keys = []
    for r in inputs:
        params = {k: v for k, v in r.params.items() if k not in volatile}
        keys.append(canon([r.tree, params, r.packages]))
    return keys


@dataclass(slots=True)
class Attribution:
    boundaries: list[list[Change]]  # boundaries[i]: changes from run i to run i + 1
    counts: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def compute(cls, differ: Differ, inputs: Sequence[RunInputs]) -> "Attribution":
        boundaries = [differ.changes(a, b) for a, b in zip(inputs, inputs[1:])]
        counts: dict[tuple[str, str], int] = {}
        for changes in boundaries:
            for c in changes:
                counts[c.key] = counts.get(c.key, 0) + 1
        return cls(boundaries, counts)

    def substantive(self, volatile: set[str]) -> set[int]:
        """Run indices k where a non-volatile input changed (from run k - 1 to run k)."""
        return {i + 1 for i, changes in enumerate(self.boundaries)
                if any(not (c.kind == "param" and c.name in volatile) for c in changes)}

    def causes(self, jump_runs: Iterable[int]) -> dict[int, list[Cause]]:
        """For each jump (index of the run after it), its changes ranked best first."""
        jumps = sorted(set(jump_runs))
        at_jumps: dict[tuple[str, str], int] = {}
        for k in jumps:
            for c in self.boundaries[k - 1]:
                at_jumps[c.key] = at_jumps.get(c.key, 0) + 1
        out = {}
        for k in jumps:
            ranked = []
            for c in self.boundaries[k - 1]:
                total, hits = self.counts[c.key], at_jumps[c.key]
                score = hits / total * (COSMETIC if c.note else 1.0)
                ranked.append(Cause(c, score, total, hits))
            ranked.sort(key=lambda x: (-x.score, KINDS.index(x.change.kind), x.change.name))
            out[k] = ranked
        return out

    def quiet(self, jump_runs: Iterable[int], volatile: set[str]) -> list[tuple[int, Change]]:
        """Non-volatile changes at boundaries that are not jumps: (index of the run after, change)."""
        jumps = set(jump_runs)
        return [(i + 1, c) for i, changes in enumerate(self.boundaries) if i + 1 not in jumps
                for c in changes if not (c.kind == "param" and c.name in volatile)]
