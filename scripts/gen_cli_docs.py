#!/usr/bin/env python3
"""Regenerate docs/cli.md from the commands' --help (run after changing any command).

    python scripts/gen_cli_docs.py          # rewrite docs/cli.md
    python scripts/gen_cli_docs.py --check  # exit 1 if docs/cli.md is out of date

tests/test_docs.py fails when a command or one of its options is missing from docs/cli.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"
WIDTH = 88

INTRO = """\
# The `tmt` command line

Generated from the commands' `--help` by `scripts/gen_cli_docs.py`; do not edit by hand
(edit the command's docstring or options, then run the script).

## Conventions

- **Refs.** Wherever a run is expected (`REF`), give a unique id prefix (at least 4 hex
  characters), a run name (its latest run), `last`, `last~N` (the N-th run before the last)
  or `NAME~N` (or, for a run tmt 0.1.8 recorded and `tmt migrate` imported, the hyphenated
  uuid 0.1.8 showed). An ambiguous or unknown ref is an error listing the candidates.
- **Output.** On a terminal, tables and diffs are rendered with colour; piped, the same
  data is printed as plain aligned text without escape codes. `NO_COLOR` (any value) turns
  colour off; `FORCE_COLOR` forces the terminal rendering. Every command that shows data
  has `--json` (keys are sorted and only ever added between versions; NaN and infinities
  are written as the strings `"NaN"`, `"Infinity"`, `"-Infinity"`, as in the records).
- **Streams.** Data goes to stdout; messages (what was done, warnings, how to undo) go to
  stderr, so `tmt ls --json | jq` and `tmt export > runs.csv` stay clean.
- **Errors and exit status.** `0` success, `1` failure (and `tmt fsck` finding a problem),
  `2` usage error (bad option, bad ref syntax, bad filter). A tmt error prints
  `Error: <what is wrong>` and usually a `hint: <what to do>` line, without a traceback;
  set `TMT_TRACEBACK=1` to see the traceback.
- **Store.** Commands find the `.tmt/` folder like git finds `.git/`: in the working
  directory or the nearest parent; `TMT_DIR` points at another one.
- **Tables.** On a terminal a table fits the window: the name column shrinks first (cut
  with `…`), then the value columns that do not fit are left out and a note on stderr names
  them; ids, statuses, ages and numbers are never cut. Piped, nothing is cut or left out
  unless `COLUMNS` is set (then the same rules apply to that width).
- **Pager.** On a terminal, `tmt show` and `tmt diff` send their output through a pager,
  as git does: `TMT_PAGER`, else `PAGER`, else `less -FRX` (which prints output that fits
  one screen directly; not when `TERM` is unset or `dumb`); `LESS=FRX` is set unless you set
  `LESS`. An empty value or `cat`
  means no pager, and so does `--no-pager` (`tmt --no-pager show …` or `tmt show
  --no-pager …`). Piped output never goes through a pager.
- **Closed pipes.** When the reader goes away (`tmt diff A B | head`, or quitting the
  pager), tmt stops quietly, without a message, with status 141 (as git; 0 when the pager
  was quit).
- **`python -m tmt`** runs the same command line (for environments where the `tmt`
  script is not on `PATH`).

## Shell completion

Commands, options and run refs (`last`, run names, short ids of recent runs) complete in
bash, zsh and fish. Add one line to your shell's start-up file:

```sh
# ~/.bashrc
eval "$(_TMT_COMPLETE=bash_source tmt)"
# ~/.zshrc
eval "$(_TMT_COMPLETE=zsh_source tmt)"
# ~/.config/fish/completions/tmt.fish
_TMT_COMPLETE=fish_source tmt | source
```

To avoid running tmt at every shell start, save the output once
(`_TMT_COMPLETE=bash_source tmt > ~/.tmt-complete.bash`) and source that file instead.

## Commands
"""


def command_help(group: click.Group, name: str) -> str:
    cmd = group.get_command(click.Context(group), name)
    parent = click.Context(group, info_name="tmt", terminal_width=WIDTH, max_content_width=WIDTH)
    ctx = click.Context(cmd, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH)
    return cmd.get_help(ctx)


def render() -> str:
    sys.path.insert(0, str(ROOT))
    from tmt.cli import COMMANDS, cli

    names = cli.list_commands(click.Context(cli))
    parts = [INTRO]
    for name in names:
        parts.append(f"- [`tmt {name}`](#tmt-{name}): {COMMANDS[name]}\n")
    ctx = click.Context(cli, info_name="tmt", terminal_width=WIDTH, max_content_width=WIDTH)
    parts.append(f"\n## tmt\n\n```text\n{cli.get_help(ctx)}\n```\n")
    for name in names:
        parts.append(f"\n## tmt {name}\n\n```text\n{command_help(cli, name)}\n```\n")
    return "".join(parts)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is out of date: run python scripts/gen_cli_docs.py", file=sys.stderr)
            return 1
        return 0
    DOC.parent.mkdir(parents=True, exist_ok=True)
    DOC.write_text(text)
    print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
