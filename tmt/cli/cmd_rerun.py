"""tmt rerun: run a recorded run's code again, as a new run."""
from __future__ import annotations

import click

from tmt.cli.common import ref_argument


@click.command("rerun")
@ref_argument()
@click.option("--set", "sets", metavar="K=V", multiple=True,
              help="Change param K to V for this run (on its command line, or as the value argparse, "
                   "click or the decorated function receives). Repeatable.")
@click.option("--in", "into", metavar="DIR", type=click.Path(file_okay=False),
              help="Put the code into DIR (new or empty) instead of .tmt/cache/rerun/.")
@click.option("--link", "links", metavar="PATH", multiple=True,
              help="Make PATH of the project (data its snapshot left out, e.g. data/) visible in the rerun "
                   "folder, as a symlink: the command reads, and writes, the real one. Repeatable.")
@click.option("--verify", is_flag=True,
              help="Say whether the new run reproduced REF's metrics and series (exit 1 if not).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=None, metavar="REL",
              help="With --verify: the relative difference two numbers may have and still agree "
                   "(default 1e-12).")
def command(ref: str, sets: tuple[str, ...], into: str | None, links: tuple[str, ...], verify: bool,
            tolerance: float | None) -> None:
    """Run REF's exact code again, as a new run.

    REF's code is written as writable copies into a new folder, and REF's command runs
    again there, from the folder it ran in, with --set changes applied to its params. The
    new run is named as REF, tagged `rerun`, and has REF as its parent. It works for runs
    recorded with `tmt run` and for decorated runs (their script runs with this Python).
    A warning says when Python, the platform or package versions differ from REF's.

    tmt exits with the command's status; with --verify, 1 if the command succeeded but
    its results differ from REF's.

    \b
    REF is a run: an id prefix (4+ hex chars), a name (its latest run), last, last~N or NAME~N.

    \b
    Examples:
      tmt rerun last --verify
      tmt rerun lr_baseline --set lr=0.01 --set epochs=20
      tmt rerun 3f2a9c1e --link data
    """
    from tmt._warn import warn
    from tmt.cli.cmd_run import report
    from tmt.runner.rerun import DEFAULT_TOLERANCE, rerun
    from tmt.text import printable

    changes = {}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"--set takes NAME=VALUE, got {item!r}")
        changes[name.strip()] = value
    if tolerance is not None and not verify:
        raise click.UsageError("--tolerance applies to --verify")
    tol = DEFAULT_TOLERANCE if tolerance is None else tolerance
    click.echo(f"tmt: rerunning run {printable(ref)}", err=True)
    out = rerun(ref, sets=changes, into=into, verify=verify, tolerance=tol, links=list(links))
    result = out.result
    report(result)
    click.echo(f"tmt: its code is in {printable(out.folder)}", err=True)
    for name in result.unapplied:
        warn(f"--set {printable(name)}: nothing in the command read a param {printable(name)!r}; "
             "the run ran without that change")
    for change in out.env_changes:
        warn(printable(change))
    code = result.exit_code
    if out.differences is not None:
        label = f"run {out.ref.id[:8]}"
        if not out.differences:
            n = len(out.ref.metrics)
            click.echo(f"reproduced: {n} metric(s) and {len(out.ref.series)} series agree with {label} "
                       f"(within {tol:g} relative)")
        else:
            click.echo(f"differs from {label}:")
            width = max(len(printable(d.what)) for d in out.differences)
            for d in out.differences:
                click.echo(f"  {printable(d.what):<{width}}  {_show(d.before)} -> {_show(d.after)}")
            if code == 0:
                code = 1
    click.get_current_context().exit(code)


def _show(value) -> str:
    from tmt.cli.output import fmt_value
    from tmt.text import printable

    if isinstance(value, float):
        return repr(value)  # full precision: the difference may be in the last digits
    return printable(fmt_value(value)) if value is not None else "-"
