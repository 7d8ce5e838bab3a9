"""A command's output as the run keeps it: the first and last megabyte, as a terminal showed it.

The bytes go to the screen unchanged; what is kept is bounded and cheap to keep: the head
(the first HEAD_BYTES) and a tail (at least the last TAIL_BYTES), chunks as they came, plus
a count of lines. Turning them into text (applying carriage returns the way a terminal
overwrites a line, dropping colour codes and other escape sequences) happens once, at the
end, on at most those two megabytes, so capturing 100 MB costs about one copy of the head.
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


def collapse(data: bytes) -> str:
    """Terminal output bytes as plain text: UTF-8 (bad bytes replaced), `\\r\\n` as a newline
    (a pseudo-terminal writes that), carriage returns applied, escapes dropped."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    if "\r" in text:
        text = "\n".join(overwrite(line) for line in text.split("\n"))
    return strip_escapes(text)


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
