"""Ignore rules: nested .gitignore files and .tmtignore with git's semantics (via pathspec),
plus the built-in excludes (environments, caches, trackers' folders).

Matching is on the hot path of every snapshot, so each rules file is compiled once into a
single alternation regex used as a pre-filter; only paths it matches go through the exact
last-match-wins check (needed for negations).

The walk asks about one path at a time and never descends into an ignored folder, so a
pattern decides a path only when it matches *that path*, as git does. pathspec's regexes
also match every path below a matching folder (the `ps_d` group marks such a match); those
matches are not decisions here: with "a" and "!c.py", the folder c.py/a stays ignored
although "!c.py" matches its parent (pathspec's check_file("c.py/a/") says otherwise).

Files are read as git reads them: a UTF-8 byte order mark is skipped, a line git would skip
(an invalid pattern such as `build\\` or a lone `!`) is skipped with one warning naming the
file and line, and an ignore file that is a symlink (or not a regular file) is not read.
"""
from __future__ import annotations

import os
import re
import stat as statmod
from collections.abc import Callable

from blake3 import blake3

from tmt._plain import Plain

IGNORE_FILES = (".gitignore", ".tmtignore")
ALWAYS_IGNORED = frozenset((b".tmt", b".git"))
#: Folders no snapshot takes unless the user's own rules re-include them (`!wandb/`): caches
#: that tools rebuild, and other trackers' run folders (which hold data, not code).
BUILTIN_DIRS = frozenset(
    n.encode()
    for n in ("__pycache__", "node_modules", ".ipynb_checkpoints", ".mypy_cache", ".pytest_cache",
              ".ruff_cache", "mlruns", "wandb")
)
#: A folder holding one of these is a Python environment (virtualenv, venv, conda): left out
#: like BUILTIN_DIRS, so a venv inside the project is neither recorded nor ever deleted.
ENV_MARKERS = frozenset((b"pyvenv.cfg", b"conda-meta"))
_BOM = b"\xef\xbb\xbf"
_NAMED_GROUP = r"\(\?P<\w+>"  # compiled with the first rules (re caches it): an unchanged tree needs none
_DIR_GROUP = "ps_d"  # pathspec's marker group: the match ended at a folder boundary
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK  # no symlink, no FIFO that blocks


class Rules(Plain):
    """The rules of one directory's ignore files; paths are relative to `base`.

    Patterns are compiled on the first decision: an unchanged tree asks for none (the
    snapshot's cache remembers what these same rules kept), so it never pays for pathspec.
    Rules the snapshot's cache vouches for (`unread`) are not even read until then.
    A plain class, not a dataclass (tmt/_plain.py).
    """

    __slots__ = ("base", "sig", "lines", "negates", "warn", "patterns", "prefilter", "source", "parent_sig")

    def __init__(
        self,
        base: str,
        sig: bytes,
        lines: list[tuple[str, int, str]] | None,
        negates: bool = False,
        warn: Callable[[str], None] | None = None,
        patterns: list[tuple[re.Pattern[str], bool, bool]] | None = None,
        prefilter: re.Pattern[str] | None = None,
        source: bytes = b"",
        parent_sig: bytes = b"",
    ) -> None:
        self.base = base  # relative dir of the ignore file, '' for the root, else ending with '/'
        self.sig = sig  # digest of every rules file from the root down to this one
        self.lines = lines  # (file, line number, text); None: not read yet
        self.negates = negates  # some line re-includes (`!…`): only then can a built-in exclude lose
        self.warn = warn  # where invalid lines are reported (compile time)
        self.patterns = patterns  # (regex, include, ends at ps_d), last first
        self.prefilter = prefilter
        self.source = source  # the folder holding the files, read on first use when `lines` is None
        self.parent_sig = parent_sig

    @classmethod
    def unread(cls, dir_abs: bytes, base: str, sig: bytes, parent_sig: bytes,
               warn: Callable[[str], None] | None) -> "Rules":
        """Rules known by their digest only (their files unchanged since it was taken)."""
        return cls(base, sig, None, False, warn, source=dir_abs, parent_sig=parent_sig)

    def reincludes(self) -> bool:
        """Whether some line re-includes (`!…`)."""
        if self.lines is None:
            self._read()
        return self.negates

    def _read(self) -> None:
        fresh = load_rules(self.source, self.base, self.parent_sig, self.warn)
        self.lines = fresh.lines if fresh is not None else []
        self.negates = fresh.negates if fresh is not None else False

    def decide(self, rel: str) -> bool | None:
        """True: ignored, False: re-included (negation), None: no rule matched.

        `rel` ends with '/' for a folder.
        """
        if self.patterns is None:
            self._compile()
        if self.prefilter is None or self.patterns is None:
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
        from pathspec import GitIgnoreSpec  # only projects with ignore files pay for importing it

        if self.lines is None:
            self._read()
        active: list = []
        for fname, lineno, text in self.lines or ():
            try:
                patterns = GitIgnoreSpec.from_lines([text]).patterns
            except ValueError:  # pathspec's GitIgnorePatternError
                # git skips such a line (`build\`, a lone `!`) and goes on: so do we.
                if self.warn is not None:
                    from tmt.text import printable

                    self.warn(f"{printable(fname)}:{lineno}: skipped '{printable(text)}', "
                              "which is not a valid pattern (git skips it too)")
                continue
            active.extend(p for p in patterns if p.include is not None and getattr(p, "regex", None) is not None)
        self.patterns = []
        if not active:
            return
        # pathspec searches (its regexes are not all anchored: "*/" is "(?P<ps_d>/)"), while
        # the pre-filter is used with match(): unanchored alternatives get a leading ".*?".
        regexes = [re.sub(_NAMED_GROUP, "(?:", p.regex.pattern) for p in active]
        self.prefilter = re.compile("|".join(f"(?:{r})" if r.startswith("^") else f"(?:.*?{r})" for r in regexes))
        for p in reversed(active):
            if _DIR_GROUP in p.regex.groupindex:
                # The ps_d group ends the regex; requiring the match to end with the path makes
                # it a match of the path itself (a match of a parent ends inside the path).
                self.patterns.append((re.compile(f"(?:{p.regex.pattern})\\Z"), bool(p.include), True))
            else:
                self.patterns.append((p.regex, bool(p.include), False))


def read_ignore_file(dir_abs: bytes, name: str) -> bytes | None:
    """The bytes of ignore file `name` in `dir_abs`, or None: missing, a folder, a symlink
    (git does not follow a symlinked .gitignore either), a FIFO or device, unreadable."""
    try:
        fd = os.open(os.path.join(dir_abs, os.fsencode(name)), _OPEN_FLAGS)
    except OSError:
        return None
    try:
        if not statmod.S_ISREG(os.fstat(fd).st_mode):
            return None
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def parse_rules(files: list[tuple[str, bytes]], base_rel: str, parent_sig: bytes = b"",
                warn: Callable[[str], None] | None = None) -> Rules | None:
    """Rules from (file name, bytes) pairs of one folder (in IGNORE_FILES order), or None if
    they hold no pattern. `sig` identifies the whole stack of rules in force (`parent_sig` is
    the enclosing one's), so the snapshot's cache can tell that earlier decisions still hold."""
    lines: list[tuple[str, int, str]] = []
    digest = blake3(parent_sig)
    digest.update(os.fsencode(base_rel) + b"\0")
    for name, raw in files:
        digest.update(name.encode() + b"\0" + raw + b"\0")
        if raw.startswith(_BOM):
            raw = raw[len(_BOM):]
        label = base_rel + name
        for n, text in enumerate(raw.decode("utf-8", "surrogateescape").splitlines(), 1):
            if text.strip() and not text.startswith("#"):
                lines.append((label, n, text))
    if not lines:
        return None
    return Rules(base_rel, digest.digest(), lines, any(t.startswith("!") for _, _, t in lines), warn)


def load_rules(dir_abs: bytes, base_rel: str, parent_sig: bytes = b"",
               warn: Callable[[str], None] | None = None) -> Rules | None:
    """The rules of `dir_abs`'s ignore files, or None if they hold no pattern."""
    files = []
    for name in IGNORE_FILES:
        raw = read_ignore_file(dir_abs, name)
        if raw is not None:
            files.append((name, raw))
    return parse_rules(files, base_rel, parent_sig, warn) if files else None


def decision(stack: list[Rules], rel: str) -> bool | None:
    """Deeper rules files override shallower ones; within one file the last match wins.
    True: ignored, False: re-included by a negation, None: no rule says."""
    for rules in reversed(stack):
        d = rules.decide(rel)
        if d is not None:
            return d
    return None


def is_ignored(stack: list[Rules], rel: str) -> bool:
    return decision(stack, rel) is True


def reincluded(stack: list[Rules], rel: str) -> bool:
    """Whether the user's rules explicitly keep folder `rel` (ending with '/'), which a
    built-in exclude would leave out. Rules without a negation are not even compiled."""
    return any(r.reincludes() for r in stack) and decision(stack, rel) is False
