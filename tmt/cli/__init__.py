"""The `tmt` command: a click group whose verbs load lazily, one module per verb.

Each verb lives in tmt/cli/cmd_<verb>.py and exposes a click command named `command`. The
group imports a verb's module only when that verb runs (or for --help), so `tmt --help`
and `tmt ls` start fast.
"""
from __future__ import annotations

import importlib
import os
import sys

import click

from tmt import __version__

#: verb -> one-line summary (shown by `tmt --help` without importing the verb's module)
COMMANDS: dict[str, str] = {
    "init": "Create a .tmt repository here.",
    "ls": "List runs, newest first.",
    "show": "Show everything recorded about a run.",
    "diff": "Compare the code, params and metrics of two runs.",
    "checkout": "Restore a run's code.",
    "rm": "Delete runs.",
    "export": "Export runs as CSV or JSON.",
    "gc": "Delete objects no run references.",
    "fsck": "Verify the store and repair what can be repaired.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _module_exists(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _module_exists(name):
            return None
        mod = importlib.import_module(f"tmt.cli.cmd_{name}")
        return mod.command

    def invoke(self, ctx: click.Context):
        """Run the verb; a TmtError becomes `Error: …` + `hint: …` and its exit code."""
        from tmt.errors import TmtError

        try:
            return super().invoke(ctx)
        except TmtError as e:
            if os.environ.get("TMT_TRACEBACK"):
                raise
            raise TmtClickError(e) from e

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class TmtClickError(click.ClickException):
    """A TmtError on its way out through click: message, hint line, the error's exit code."""

    def __init__(self, error) -> None:
        super().__init__(error.message)
        self.hint = error.hint
        self.exit_code = error.exit_code

    def show(self, file=None) -> None:
        click.echo(f"Error: {self.message}", err=True)
        if self.hint:
            click.echo(f"hint: {self.hint}", err=True)


def _module_exists(name: str) -> bool:
    return os.path.exists(os.path.join(os.path.dirname(__file__), f"cmd_{name}.py"))


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmt")
def cli() -> None:
    """tmt (That Metric Timeline): record, find, compare and restore experiment runs."""


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: tmt errors become `Error: …` + `hint:` and an exit code."""
    from tmt.errors import TmtError

    try:
        cli.main(args=argv, prog_name="tmt", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except TmtError as e:
        if os.environ.get("TMT_TRACEBACK"):
            raise
        click.echo(f"Error: {e.message}", err=True)
        if e.hint:
            click.echo(f"hint: {e.hint}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
