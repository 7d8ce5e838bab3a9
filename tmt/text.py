"""Untrusted text made safe to print: the one place that escapes control characters.

Every string that came from a store (run names, tags, metric and param keys, error
messages, file names in trees) or from the file system may hold terminal escape sequences
(ESC [ ... a colour, ESC ] 52 the clipboard, a cursor move that hides a line), bidi
overrides that reorder a line, or undecodable bytes (surrogates from os.fsdecode). Printing
such a string raw lets a store's author drive the user's terminal, so every output path
(tables, messages, errors, diffs) passes untrusted text through `printable` first.
"""
from __future__ import annotations

def is_text(value: str) -> bool:
    """Whether `value` is valid text (encodes as UTF-8): not a command-line argument or file
    name holding undecodable bytes (lone surrogates from os.fsdecode)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def to_text(value: str) -> str:
    """`value` as text that encodes as UTF-8: an undecodable byte (a lone surrogate from
    os.fsdecode, in a non-UTF-8 path or argument) becomes the four characters "\\xNN", as
    `printable` shows it. Records, the index and series hold text, never raw bytes."""
    if is_text(value):
        return value
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no byte stands for
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def to_texts(value: object) -> object:
    """`value` with every string in it (dict keys too, lists and tuples walked) `to_text`."""
    if isinstance(value, str):
        return to_text(value)
    if isinstance(value, dict):
        return {to_texts(k): to_texts(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_texts(v) for v in value]
    return value


#: escapes chosen to read like Python's, so `a\x1b[2Jb` shows what is really there
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text: object, *, keep_newlines: bool = False, keep_tabs: bool = False) -> str:
    """`text` (str() of it) with every non-printable character escaped as \\xNN, \\uNNNN or
    \\n/\\r/\\t; plain space stays. Backslashes are doubled only when something was escaped,
    so ordinary Windows paths print unchanged and an escaped string cannot be forged by
    writing the escape out by hand. With `keep_newlines`, "\\n" passes (multi-line
    messages and tracebacks); with `keep_tabs`, "\\t" passes (lines of code shown on a
    terminal); everything else is still escaped.
    """
    s = text if isinstance(text, str) else str(text)
    if s.isprintable():
        return s
    kept = ("\n" if keep_newlines else "") + ("\t" if keep_tabs else "")
    if kept and s.translate({ord(c): None for c in kept}).isprintable():
        return s
    out = []
    for ch in s:
        if ch in kept:
            out.append(ch)
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
                out.append(f"\\x{code - 0xDC00:02x}")
            elif code < 0x100:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    return "".join(out)
