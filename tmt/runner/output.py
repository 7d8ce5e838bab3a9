"""A command's output as the run keeps it: the first and last megabyte, as a terminal showed it.

The bytes go to the screen unchanged; what is kept is bounded and cheap to keep: the head
(the first HEAD_BYTES) and a tail (at least the last TAIL_BYTES), chunks as they came, plus
a count of lines. Turning them into text (as a terminal leaves it on screen: carriage
returns and cursor moves applied, colour codes and other escape sequences dropped) happens
once, at the end, on at most those two megabytes, so capturing 100 MB costs about one copy
of the head.
"""
from __future__ import annotations

import re
from collections import deque

HEAD_BYTES = 1 << 20
TAIL_BYTES = 1 << 20

#: ESC [ … final (CSI: colours, cursor moves), ESC ] … BEL or ESC \ (OSC: titles, links),
#: ESC ( B and the like (character sets), and two-character ESC sequences
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()*+].|\x1b[@-Z\\-_]"
)
#: control characters other than tab and newline (\r is handled before)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_escapes(text: str) -> str:
    """`text` without terminal escape sequences and control characters (tab and newline kept)."""
    if "\x1b" in text:
        text = _ESCAPES.sub("", text)
    return _CONTROLS.sub("", text)


def overwrite(line: str) -> str:
    """One line as a terminal shows it after its carriage returns: each `\\r` returns to the
    start and the text after it overwrites what was there ("10%\\r100%" shows "100%")."""
    if "\r" not in line:
        return line
    shown = ""
    for part in line.split("\r"):
        shown = part + shown[len(part):]
    return shown


#: One token of terminal output: an escape sequence or a control character (split keeps them)
_TOKENS = re.compile(
    r"(\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[()*+].|\x1b[@-Z\\-_]|[\x00-\x08\n-\x1f\x7f])"
)


def collapse(data: bytes) -> str:
    """Terminal output as the text a terminal leaves on screen: UTF-8 (bad bytes replaced);
    a carriage return goes back to the start of the line and what follows overwrites it
    ("10%\r100%" leaves "100%"); the cursor moves and erasures progress displays use
    (up, down, left, right, column, erase line, erase below: rich's and tqdm's multi-line
    bars) are applied; colours and every other escape sequence are dropped. Tabs stay."""
    text = data.decode("utf-8", "replace")
    if "\x1b" not in text and "\b" not in text:  # the common case: no cursor moves, line by line
        if "\r" in text:
            text = "\n".join(overwrite(line) for line in text.replace("\r\n", "\n").split("\n"))
        return _CONTROLS.sub("", text)
    lines = [""]
    row = col = 0
    for tok in _TOKENS.split(text):
        if not tok:
            continue
        c = tok[0]
        if c == "\n":
            row += 1
            col = 0
            if row == len(lines):
                lines.append("")
        elif c == "\r":
            col = 0
        elif c == "\b":
            col = max(0, col - 1)
        elif c == "\x1b":
            if tok[1:2] == "[":  # else OSC (titles, links), character sets, ...: nothing on screen
                row, col = _csi(lines, row, col, tok[-1], tok[2:-1])
        elif c < " " or c == "\x7f":
            continue  # other control characters
        else:
            line = lines[row]
            if col > len(line):
                line += " " * (col - len(line))
            lines[row] = line[:col] + tok + line[col + len(tok):]
            col += len(tok)
    return "\n".join(lines)


def _csi(lines: list[str], row: int, col: int, final: str, arg: str) -> tuple[int, int]:
    """A control sequence applied to the screen's `lines`: cursor moves and erasures (anything
    else, colours, is dropped); the cursor's new (row, col)."""
    n = int(arg) if arg.isdigit() else (0 if final in "JK" else 1)
    if final == "A":
        row = max(0, row - n)
    elif final == "B":
        row += n
        lines.extend("" for _ in range(row + 1 - len(lines)))
    elif final == "C":
        col += n
    elif final == "D":
        col = max(0, col - n)
    elif final == "G":
        col = max(0, n - 1)
    elif final == "K":
        line = lines[row]
        lines[row] = line[:col] if n == 0 else ("" if n == 2 else " " * col + line[col:])
    elif final == "J" and n == 0:
        del lines[row + 1:]
        lines[row] = lines[row][:col]
    return row, col


class Capture:
    """Keeps the head and tail of a stream of output chunks (in arrival order)."""

    def __init__(self, head_bytes: int = HEAD_BYTES, tail_bytes: int = TAIL_BYTES) -> None:
        self.head_bytes = head_bytes
        self.tail_bytes = tail_bytes
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0
        self.lines = 0
        self.last_byte = b"\n"

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.total += len(chunk)
        self.lines += chunk.count(b"\n")
        self.last_byte = chunk[-1:]
        room = self.head_bytes - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
            if not chunk:
                return
        self._tail.append(chunk)
        self._tail_size += len(chunk)
        # Drop whole chunks from the front while the rest still holds tail_bytes and the
        # byte before them (which says whether the tail starts a line).
        while self._tail_size - len(self._tail[0]) > self.tail_bytes:
            self._tail_size -= len(self._tail.popleft())

    def text(self) -> str:
        """The kept output as text; a note stands where bytes were left out."""
        head = bytes(self._head)
        tail = b"".join(self._tail)
        if len(head) + len(tail) == self.total:
            return collapse(head + tail)
        before = tail[-self.tail_bytes - 1:-self.tail_bytes]  # the byte just before the tail
        tail = tail[-self.tail_bytes:]
        cut = tail.find(b"\n")
        if before != b"\n" and 0 <= cut < len(tail) - 1:
            tail = tail[cut + 1:]  # the tail starts mid-line: begin at the next whole line
        left_out = self.total - len(head) - len(tail)
        kept_lines = head.count(b"\n") + tail.count(b"\n")
        head_text = collapse(head)
        if not head_text.endswith("\n"):
            head_text += "\n"
        note = f"[tmt: {left_out} bytes ({self.lines - kept_lines} lines) of output left out here]\n"
        return head_text + note + collapse(tail)
