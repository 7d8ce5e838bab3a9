"""docs/cli.md documents every command and every option (regenerate: python scripts/gen_cli_docs.py)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tmt.cli import COMMANDS, cli

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"


def _sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^## ", text, flags=re.M)
    return {p.split("\n", 1)[0].strip(): p for p in parts[1:]}


def _commands() -> list[str]:
    return cli.list_commands(click.Context(cli))


def test_every_command_module_is_listed_loads_and_is_in_the_help():
    modules = sorted(p.stem.removeprefix("cmd_") for p in (ROOT / "tmt" / "cli").glob("cmd_*.py"))
    assert modules == sorted(COMMANDS)  # a cmd_<verb>.py not in COMMANDS is a verb nobody can run
    ctx = click.Context(cli)
    for name in _commands():
        cmd = cli.get_command(ctx, name)
        assert isinstance(cmd, click.Command) and cmd.name == name, name
    out = subprocess.run([sys.executable, "-m", "tmt", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    for name, summary in COMMANDS.items():
        assert re.search(rf"^  {name} +{re.escape(summary)}$", out.stdout, re.M), f"`tmt --help` lacks {name}"


@pytest.mark.parametrize("name", list(COMMANDS))
def test_command_is_documented(name):
    sections = _sections()
    assert f"tmt {name}" in sections, f"docs/cli.md has no section for `tmt {name}`: run scripts/gen_cli_docs.py"
    section = sections[f"tmt {name}"]
    cmd = cli.get_command(click.Context(cli), name)
    for param in cmd.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("-"):
                assert re.search(rf"(^|[\s,]){re.escape(opt)}\b", section), f"`tmt {name} {opt}` is undocumented"
    first_line = (cmd.help or "").strip().split("\n")[0]
    assert first_line in section


def test_completion_is_documented():
    text = DOC.read_text()
    assert "_TMT_COMPLETE=bash_source tmt" in text and "_TMT_COMPLETE=zsh_source tmt" in text


def test_generated_docs_are_current():
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
