"""Ignore rules: nested .gitignore files and .tmtignore with git's semantics (via pathspec).

Matching is on the hot path of every snapshot, so each rules file is compiled once into a
single alternation regex used as a pre-filter; only paths it matches go through the exact
last-match-wins check (needed for negations).

The walk asks about one path at a time and never descends into an ignored folder, so a
pattern decides a path only when it matches *that path*, as git does. pathspec's regexes
also match every path below a matching folder (the `ps_d` group marks such a match); those
matches are not decisions here: with "a" and "!c.py", the folder c.py/a stays ignored
although "!c.py" matches its parent (pathspec's check_file("c.py/a/") says otherwise).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from blake3 import blake3

IGNORE_FILES = (".gitignore", ".tmtignore")
ALWAYS_IGNORED = frozenset((b".tmt", b".git"))
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_DIR_GROUP = "ps_d"  # pathspec's marker group: the match ended at a folder boundary


@dataclass(slots=True)
class Rules:
    """The rules of one directory's ignore files; paths are relative to `base`.

    Patterns are compiled on the first decision: an unchanged tree asks for none (the
    snapshot's cache remembers what these same rules kept), so it never pays for pathspec.
    """

    base: str  # relative dir of the ignore file, '' for the root, else ending with '/'
    sig: bytes  # digest of every rules file from the root down to this one
    lines: list[str]
    patterns: list[tuple[re.Pattern[str], bool, bool]] | None = None  # (regex, include, ends at ps_d), last first
    prefilter: re.Pattern[str] | None = None

    def decide(self, rel: str) -> bool | None:
        """True: ignored, False: re-included (negation), None: no rule matched.

        `rel` ends with '/' for a folder.
        """
        if self.patterns is None:
            self._compile()
        if self.prefilter is None:
            return None  # only blank patterns
        sub = rel[len(self.base):]
        bare = sub[:-1] if sub.endswith("/") else sub
        if not self.prefilter.match(sub) and not self.prefilter.match(bare):
            return None
        for regex, include, has_dir_group in self.patterns:
            if has_dir_group:
                if regex.search(sub) is None:  # anchored at the end: this path, not a parent
                    continue
            elif regex.search(bare) is None:
                continue  # e.g. "d/**" matches what is inside d, not d itself
            return include
        return None

    def _compile(self) -> None:
        import pathspec  # only projects with ignore files pay for importing it

        spec = pathspec.GitIgnoreSpec.from_lines(self.lines)
        active = [p for p in spec.patterns if p.include is not None and getattr(p, "regex", None) is not None]
        self.patterns = []
        if not active:
            return
        # pathspec searches (its regexes are not all anchored: "*/" is "(?P<ps_d>/)"), while
        # the pre-filter is used with match(): unanchored alternatives get a leading ".*?".
        regexes = [_NAMED_GROUP.sub("(?:", p.regex.pattern) for p in active]
        self.prefilter = re.compile("|".join(f"(?:{r})" if r.startswith("^") else f"(?:.*?{r})" for r in regexes))
        for p in reversed(active):
            if _DIR_GROUP in p.regex.groupindex:
                # The ps_d group ends the regex; requiring the match to end with the path makes
                # it a match of the path itself (a match of a parent ends inside the path).
                self.patterns.append((re.compile(f"(?:{p.regex.pattern})\\Z"), bool(p.include), True))
            else:
                self.patterns.append((p.regex, bool(p.include), False))


def load_rules(dir_abs: bytes, base_rel: str, parent_sig: bytes = b"") -> Rules | None:
    """The rules of `dir_abs`'s ignore files, or None if they hold no pattern.

    `sig` identifies the whole stack of rules in force (`parent_sig` is the enclosing one's),
    so the snapshot's cache can tell that ignore decisions made last time still hold.
    """
    lines: list[str] = []
    digest = blake3(parent_sig)
    digest.update(os.fsencode(base_rel) + b"\0")
    for name in IGNORE_FILES:
        try:
            with open(os.path.join(dir_abs, os.fsencode(name)), "rb") as f:
                raw = f.read()
            digest.update(name.encode() + b"\0" + raw + b"\0")
            lines.extend(raw.decode("utf-8", "surrogateescape").splitlines())
        except OSError:  # missing, a folder, unreadable: no rules from this file
            continue
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines):
        return None
    return Rules(base_rel, digest.digest(), lines)


def is_ignored(stack: list[Rules], rel: str) -> bool:
    """Deeper rules files override shallower ones; within one file the last match wins."""
    for rules in reversed(stack):
        decision = rules.decide(rel)
        if decision is not None:
            return decision
    return False
