"""The filter language of one line of text (the TUI's filter bar): words -> `tmt.runs` filters.

    name~^resnet f1>0.8 params.lr<=0.1 status:failed tag:paper since:7d

Words are separated by spaces (quote a word to keep spaces or to make it a plain name
pattern: "my run", 'a:b'). Each word is one of:

    name~RE, name:RE       runs whose name matches the regular expression (re.search)
    KEY OP VALUE           a `where` comparison, as `tmt ls --where` takes it: f1>0.8,
                           params.lr<=0.1, loss.last<0.3, params.opt==adam (spaces around
                           the operator are allowed: f1 > 0.8)
    status:S[,S...]        any of these statuses (running, completed, failed, interrupted, crashed)
    tag:T                  runs carrying tag T
    since:WHEN, until:WHEN an age (7d, 12h, 30m) or an ISO date/time, as --since/--until
    parent:REF             the sub-runs of run REF
    anything else          a regular expression searched in the run name (the predecessor's search)

Every word must hold (AND); several statuses in one word are alternatives (OR), as repeated
`--status` options are. The result is a `Filters`, whose `kwargs()` are the arguments of
`tmt.runs()`: one language, parsed in one place, with errors (`UsageError`) that say which
word is wrong.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tmt.errors import UsageError

#: `KEY:` prefixes the language knows (a word `stauts:failed` is an error, not a name search)
KEYS = ("status", "tag", "since", "until", "name", "parent")
OPERATORS = (">=", "<=", "==", "!=", ">", "<", "=")
LANGUAGE_HINT = ("words: a name pattern, name~RE, f1>0.8, params.lr<=0.1, status:failed, tag:paper, "
                 "since:7d, until:2024-05-01, parent:REF")
_OP_RE = re.compile(r"(>=|<=|==|!=|>|<|=)")
_KEY_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(.*)\Z", re.S)
_GLOBAL_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    quoted: bool  # some of it was in quotes: never a key or an operator


@dataclass(slots=True)
class Filters:
    """The filters one line of text asks for (`kwargs()`: the arguments of `tmt.runs`)."""

    names: list[str] = field(default_factory=list)  # regular expressions, all must match
    where: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    since: str | None = None
    until: str | None = None
    parent: str | None = None  # a ref, resolved by the caller

    @property
    def name(self) -> str | None:
        """The name patterns as one regular expression (each must be found in the name)."""
        return combine_patterns(self.names)

    def kwargs(self) -> dict[str, Any]:
        """Arguments of `tmt.runs()` / `select()` (parent excepted: it is a ref to resolve)."""
        return {"name": self.name, "since": self.since, "until": self.until, "status": self.status or None,
                "where": self.where or None, "tags": self.tags or None}

    def __bool__(self) -> bool:
        return bool(self.names or self.where or self.status or self.tags or self.since or self.until
                    or self.parent)


def split_words(text: str) -> list[Word]:
    """Words separated by blanks; quotes ('...' or "...") keep blanks and are removed."""
    words: list[Word] = []
    buf: list[str] = []
    quoted = False
    in_word = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"":
            end = text.find(ch, i + 1)
            if end < 0:
                raise UsageError(f"unclosed quote {ch} in the filter", f"close it: {text[i:]}{ch}")
            buf.append(text[i + 1:end])
            quoted = in_word = True
            i = end + 1
            continue
        if ch.isspace():
            if in_word:
                words.append(Word("".join(buf), quoted))
            buf, quoted, in_word = [], False, False
        else:
            buf.append(ch)
            in_word = True
        i += 1
    if in_word:
        words.append(Word("".join(buf), quoted))
    return words


def _join_operators(words: list[Word]) -> list[Word]:
    """`f1 > 0.8`, `f1 >0.8`, `f1> 0.8` -> `f1>0.8`: a comparison may have blanks around its operator."""
    out: list[Word] = []
    i = 0
    while i < len(words):
        w = words[i]
        if not w.quoted and w.text in OPERATORS:  # a lone operator glues its neighbours
            if not out or i + 1 >= len(words):
                raise UsageError(f"{w.text!r} needs a key before it and a value after it", "e.g. f1 > 0.8")
            prev = out.pop()
            out.append(Word(prev.text + w.text + _value_text(words[i + 1]), False))
            i += 2
            continue
        if not w.quoted and w.text.startswith(OPERATORS) and out and not _is_comparison(out[-1]):
            prev = out.pop()
            out.append(Word(prev.text + w.text, False))
            i += 1
            continue
        if (not w.quoted and w.text.endswith(OPERATORS) and i + 1 < len(words)
                and _KEY_RE.match(w.text) is None):
            out.append(Word(w.text + _value_text(words[i + 1]), False))
            i += 2
            continue
        out.append(w)
        i += 1
    return out


def _value_text(w: Word) -> str:
    """A value word as the where grammar reads it: a quoted one stays a string."""
    return repr(w.text) if w.quoted and "'" not in w.text else (f'"{w.text}"' if w.quoted else w.text)


def _is_comparison(w: Word) -> bool:
    return not w.quoted and _OP_RE.search(w.text) is not None and _KEY_RE.match(w.text) is None


def parse_filter(text: str) -> Filters:
    """The filters of one line of the filter language (see the module's docstring).

    Raises UsageError naming the word that is wrong; an empty line is no filter."""
    from tmt.query.filters import parse_where

    f = Filters()
    for w in _join_operators(split_words(text)):
        word = w.text
        if w.quoted:
            _check_regex(word)
            f.names.append(word)
            continue
        if word.startswith("name~"):
            f.names.append(_check_regex(word[5:], word))
            continue
        m = _KEY_RE.match(word)
        if m and not _OP_RE.search(m.group(1)):
            _add_keyed(f, word, m.group(1), m.group(2))
            continue
        if _OP_RE.search(word):
            parse_where(word)  # its error says what the grammar takes
            f.where.append(word)
            continue
        f.names.append(_check_regex(word))
    return f


def _add_keyed(f: Filters, word: str, key: str, value: str) -> None:
    """Add a `key:value` word to `f` (status:, tag:, since:, until:, parent:, name:)."""
    from tmt.query.filters import parse_time
    from tmt.query.runs import STATUS_CHOICES

    if key not in KEYS:
        raise UsageError(f"unknown filter {key + ':'!r} in {word!r}",
                         f"known: {', '.join(k + ':' for k in KEYS)}; to search names for it, "
                         f"quote it: '{word}'")
    if not value:
        raise UsageError(f"{word!r} needs a value after the colon", LANGUAGE_HINT)
    if key == "status":
        for s in value.split(","):
            if s not in STATUS_CHOICES:
                raise UsageError(f"unknown status {s!r} in {word!r}", f"choose from {', '.join(STATUS_CHOICES)}")
            if s not in f.status:
                f.status.append(s)
    elif key == "tag":
        f.tags.append(value)
    elif key in ("since", "until"):
        parse_time(value, key)  # its error names the forms it takes
        setattr(f, key, value)
    elif key == "parent":
        f.parent = value
    else:  # name:RE
        f.names.append(_check_regex(value, word))


def _check_regex(pattern: str, word: str | None = None) -> str:
    try:
        re.compile(pattern)
    except re.error as e:
        raise UsageError(f"{word or pattern!r} is not a valid regular expression: {e}",
                         "quote a word to search for it as typed: 'a[1]' is still a pattern, a\\[1\\] is not") from None
    return pattern


def combine_patterns(patterns: list[str]) -> str | None:
    """One regular expression that matches a name when each of `patterns` is found in it
    (lookaheads; a leading global flag such as (?i) becomes local to its pattern)."""
    if not patterns:
        return None
    if len(patterns) == 1:
        return patterns[0]
    parts = []
    for p in patterns:
        m = _GLOBAL_FLAGS.match(p)
        if m:
            p = f"(?{m.group(1)}:{p[m.end():]})"
        parts.append(f"(?=.*?(?:{p}))")
    return "(?s)^" + "".join(parts)
