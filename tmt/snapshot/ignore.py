"""Ignore rules: nested .gitignore files and .tmtignore with git's semantics (via pathspec).

Matching is on the hot path of every snapshot, so each rules file is compiled once into a
single alternation regex used as a pre-filter; only paths it matches go through pathspec's
exact last-match-wins check (needed for negations).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

import pathspec

IGNORE_FILES = (".gitignore", ".tmtignore")
ALWAYS_IGNORED = frozenset((b".tmt", b".git"))
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


@dataclass(slots=True)
class Rules:
    """The rules of one directory's ignore files; paths are relative to `base`."""

    base: str  # relative dir of the ignore file, '' for the root, else ending with '/'
    spec: pathspec.PathSpec
    prefilter: re.Pattern[str] | None

    def decide(self, rel: str) -> bool | None:
        """True: ignored, False: re-included (negation), None: no rule matched."""
        sub = rel[len(self.base):]
        if self.prefilter is not None and not self.prefilter.match(sub):
            return None
        result = self.spec.check_file(sub)
        return result.include


def load_rules(dir_abs: bytes, base_rel: str) -> Rules | None:
    lines: list[str] = []
    for name in IGNORE_FILES:
        try:
            with open(os.path.join(dir_abs, os.fsencode(name)), encoding="utf-8", errors="surrogateescape") as f:
                lines.extend(f.read().splitlines())
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            continue
        except OSError:
            continue
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        return None
    spec = pathspec.GitIgnoreSpec.from_lines(lines)
    regexes = [
        _NAMED_GROUP.sub("(?:", p.regex.pattern)
        for p in spec.patterns
        if p.include is not None and getattr(p, "regex", None) is not None
    ]
    prefilter = re.compile("|".join(f"(?:{r})" for r in regexes)) if regexes else None
    if prefilter is None:
        return None
    return Rules(base_rel, spec, prefilter)


def is_ignored(stack: list[Rules], rel: str) -> bool:
    """Deeper rules files override shallower ones; within one file the last match wins."""
    for rules in reversed(stack):
        decision = rules.decide(rel)
        if decision is not None:
            return decision
    return False
