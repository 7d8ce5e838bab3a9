"""Untrusted text made safe to print: the one place that escapes control characters.

Every string that came from a store (run names, tags, metric and param keys, error
messages, file names in trees) or from the file system may hold terminal escape sequences
(ESC [ ... a colour, ESC ] 52 the clipboard, a cursor move that hides a line), bidi
overrides that reorder a line, or undecodable bytes (surrogates from os.fsdecode). Printing
such a string raw lets a store's author drive the user's terminal, so every output path
(tables, messages, errors, diffs) passes untrusted text through `printable` first.
"""
from __future__ import annotations

#: escapes chosen to read like Python's, so `a\x1b[2Jb` shows what is really there
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def printable(text: object, *, keep_newlines: bool = False) -> str:
    """`text` (str() of it) with every non-printable character escaped as \\xNN, \\uNNNN or
    \\n/\\r/\\t; plain space stays. Backslashes are doubled only when something was escaped,
    so ordinary Windows paths print unchanged and an escaped string cannot be forged by
    writing the escape out by hand. With `keep_newlines`, "\\n" passes (multi-line
    messages and tracebacks), everything else is still escaped.
    """
    s = text if isinstance(text, str) else str(text)
    if s.isprintable() or (keep_newlines and s.replace("\n", "").isprintable()):
        return s
    out = []
    for ch in s:
        if ch == "\n" and keep_newlines:
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
