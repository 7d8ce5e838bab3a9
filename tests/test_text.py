"""tmt.text.printable: untrusted strings never reach the terminal as control sequences."""
from __future__ import annotations

import os

import pytest

from tmt.text import printable


@pytest.mark.parametrize("text", ["resnet", "lr=0.1 tag:paper", "C:\\data\\x", "ünïcødé 名前", ""])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert printable(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[2Jb", "a\\x1b[2Jb"),
        ("\x1b]52;c;cGF5bG9hZA==\x07", "\\x1b]52;c;cGF5bG9hZA==\\x07"),
        ("bell\x07", "bell\\x07"),
        ("two\nlines", "two\\nlines"),
        ("cr\rover", "cr\\rover"),
        ("tab\there", "tab\\there"),
        ("csi\x9bm", "csi\\x9bm"),
        ("del\x7f", "del\\x7f"),
        ("bidi\u202etxt.exe", "bidi\\u202etxt.exe"),
        ("back\\slash\x1b", "back\\\\slash\\x1b"),
    ],
)
def test_control_characters_are_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown
    assert printable(shown).isprintable()


def test_undecodable_bytes_show_as_the_byte() -> None:
    name = os.fsdecode(b"caf\xe9\x1b.py")
    assert printable(name) == "caf\\xe9\\x1b.py"
    printable(name).encode("utf-8")  # no lone surrogate left to crash the stream


def test_keep_newlines_escapes_everything_else() -> None:
    assert printable("line one\nline \x1b[31mtwo", keep_newlines=True) == "line one\nline \\x1b[31mtwo"
    assert printable("a\nb", keep_newlines=True) == "a\nb"


def test_non_strings_are_converted() -> None:
    assert printable(3.5) == "3.5"
