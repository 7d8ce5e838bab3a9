"""The `tmt` command: a click group whose verbs load lazily, one module per verb.

Each verb lives in tmt/cli/cmd_<verb>.py and exposes a click command named `command`. The
group imports a verb's module only when that verb runs (or for --help), so `tmt --help`
and `tmt ls` start fast.
"""
from __future__ import annotations

import errno
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
    "remote": "Manage remotes (S3 buckets, folders) to share runs through.",
    "push": "Send runs to a remote.",
    "pull": "Bring runs from a remote.",
    "clone": "Make a new project from a remote's runs.",
    "migrate": "Import the runs of a tmt 0.1.8 store.",
    "plot": "Plot a step series of several runs, overlaid.",
    "timeline": "A metric across runs in the order they ran, its jumps explained.",
    "run": "Record any command as a run, without changing it.",
    "rerun": "Run a recorded run's code again, as a new run.",
    "tui": "Browse, filter, compare and act on runs in a terminal UI.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)  # static: every verb ships with tmt (also from a zip or .pyc-only)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        mod = importlib.import_module(f"tmt.cli.cmd_{name}")
        return mod.command

    def invoke(self, ctx: click.Context):
        """Run the verb. The one place errors become messages: a TmtError is `Error: …` +
        `hint: …` and its exit code; an OSError or sqlite3.Error no layer mapped (a bug, but
        the user should still learn what failed) is one line too, exit 1. TMT_TRACEBACK=1
        re-raises."""
        from tmt.errors import StoreError, TmtError

        try:
            return super().invoke(ctx)
        except TmtError as e:
            if os.environ.get("TMT_TRACEBACK"):
                raise
            raise TmtClickError(e) from e
        except UnicodeError as e:
            # Undecodable bytes (a non-UTF-8 argument, file name or environment) that no
            # layer turned into a message: one line, never a traceback.
            if os.environ.get("TMT_TRACEBACK"):
                raise
            from tmt.errors import UsageError

            raise TmtClickError(UsageError(
                f"text that is not valid UTF-8: {_undecodable(e)}",
                "tmt keeps names, tags, keys and values as UTF-8; check the arguments for other bytes",
            )) from e
        except BrokenPipeError:
            # The reader went away (`tmt ls | head`): end quietly, as git does. (click's own
            # handler would exit 1.)
            _drop_stdout()
            raise click.exceptions.Exit(EXIT_BROKEN_PIPE) from None
        except OSError as e:
            if os.environ.get("TMT_TRACEBACK"):
                raise
            where = f"{os.fsdecode(e.filename)}: " if e.filename else ""
            hint = "set TMT_TRACEBACK=1 to see where it happened, and report it"
            if e.errno == errno.ENAMETOOLONG:  # a name or path from the store, not a bug
                hint = "the path is longer than this file system allows: choose a shorter target folder"
            raise TmtClickError(StoreError(f"{where}{e.strerror or e}", hint)) from e
        except Exception as e:
            # sqlite is only the query index's: an error it did not map (read-only store,
            # full disk, still busy after the retries) is still a message. sqlite3 is only
            # looked up if something imported it.
            sqlite3 = sys.modules.get("sqlite3")
            if sqlite3 is None or not isinstance(e, sqlite3.Error) or os.environ.get("TMT_TRACEBACK"):
                raise
            raise TmtClickError(StoreError(
                f"the query index (.tmt/index.sqlite) failed: {e}",
                "it is derived from the records: deleting it loses nothing (it is rebuilt)",
            )) from e

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _undecodable(e: UnicodeError) -> str:
    """What a UnicodeError is about: the characters that could not be encoded, else why."""
    from tmt.text import printable

    if isinstance(e, (UnicodeEncodeError, UnicodeTranslateError)):
        return printable(e.object[e.start:e.end])
    if isinstance(e, UnicodeDecodeError):
        return e.reason
    return printable(str(e))


class TmtClickError(click.ClickException):
    """A TmtError on its way out through click: message, hint line, the error's exit code."""

    def __init__(self, error) -> None:
        super().__init__(error.message)
        self.hint = error.hint
        # click declares exit_code a ClassVar, yet reads it from the instance (main, _main_shell_completion)
        self.exit_code = error.exit_code  # type: ignore[misc]

    def show(self, file=None) -> None:
        # Messages name runs, paths and keys from the store: control characters escaped (the
        # line breaks of a multi-line message are tmt's own).
        from tmt.text import printable

        click.echo(f"Error: {printable(self.message, keep_newlines=True)}", err=True)
        if self.hint:
            click.echo(f"hint: {printable(self.hint, keep_newlines=True)}", err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tmt")
@click.option("--no-pager", is_flag=True, help="Never send output through a pager (as git --no-pager).")
def cli(no_pager: bool) -> None:
    """tmt (That Metric Timeline): record, find, compare and restore experiment runs."""


#: exit code after Ctrl-C, as shells report a process killed by SIGINT (128 + 2)
EXIT_INTERRUPTED = 130
#: exit code when the reader of stdout went away (`tmt diff | head`), as git's (128 + SIGPIPE)
EXIT_BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: always ends in sys.exit with the verb's exit code.

    Errors were turned into messages by LazyGroup.invoke; here click's own outcomes are
    shown: usage errors (2), `ctx.exit(n)`, Ctrl-C (130), a closed stdin at a prompt (1).
    A closed stdout (`tmt ls | head`) ends the command quietly with 141, like git.
    """
    try:
        try:
            code: str | int | None = _run(argv)
        except SystemExit as e:  # a verb's own sys.exit (fsck's status): flushed below too
            code = e.code
        sys.stdout.flush()  # inside the try: a pipe closed after the last write shows here
    except BrokenPipeError:
        _drop_stdout()
        code = EXIT_BROKEN_PIPE
    sys.exit(code)


def _run(argv: list[str] | None) -> int:
    try:
        code = cli.main(args=argv, prog_name="tmt", standalone_mode=False)
    except click.exceptions.Abort as e:
        # click turns KeyboardInterrupt (and EOFError at a prompt) into Abort
        if isinstance(e.__cause__ or e.__context__, KeyboardInterrupt):
            click.echo("Interrupted.", err=True)
            return EXIT_INTERRUPTED
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except KeyboardInterrupt:  # before click's main took over
        click.echo("Interrupted.", err=True)
        return EXIT_INTERRUPTED
    # standalone_mode=False: ctx.exit(n) comes back as the return value n
    return code if isinstance(code, int) and not isinstance(code, bool) else 0


def _drop_stdout() -> None:
    """Point stdout at /dev/null: Python flushes it again at exit, and a second
    BrokenPipeError there would print "Exception ignored ..." after all."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass
