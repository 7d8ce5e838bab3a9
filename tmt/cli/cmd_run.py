"""tmt run: record any command without changing it."""
from __future__ import annotations

import click


def parse_assignments(values: tuple[str, ...], option: str) -> dict:
    """`K=V` option values as {K: V}, V read as a number or boolean when it spells one."""
    from tmt.runner.argv import coerce

    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.UsageError(f"{option} takes NAME=VALUE, got {item!r}")
        out[name.strip()] = coerce(value)
    return out


def summary(result) -> str:
    """One line for stderr: which run, how it ended, its first metrics."""
    from tmt.cli.output import fmt_duration, fmt_value
    from tmt.text import printable

    text = f"tmt: run {result.run_id[:8]} ({printable(result.name)}) {result.status}"
    if result.status != "completed":
        text += f" (exit status {result.exit_code})"
    text += f" in {fmt_duration(result.duration_s)}"
    if result.metrics:
        shown = [f"{printable(k)}={fmt_value(v)}" for k, v in sorted(result.metrics.items())[:6]]
        text += ": " + ", ".join(shown) + (", ..." if len(result.metrics) > 6 else "")
    return text


def report(result) -> None:
    import os
    import sys

    try:
        if not result.output_ended_with_newline and os.isatty(2):
            sys.stderr.write("\n")  # the command's last line shares our terminal
    except (OSError, ValueError):
        pass
    click.echo(summary(result), err=True)


@click.command("run", context_settings={"allow_interspersed_args": False})
@click.option("-n", "--name", metavar="NAME", help="Name of the run (default: the script's or program's name).")
@click.option("-t", "--tag", "tags", metavar="TAG", multiple=True, help="Tag the run. Repeatable.")
@click.option("--param", "params", metavar="K=V", multiple=True,
              help="Record one more param (numbers and true/false are typed). Repeatable.")
@click.option("--no-scalars", is_flag=True, help="Do not read metrics from the command's output lines.")
@click.option("--metrics-file", "metrics_files", metavar="PATH", multiple=True,
              help="Read final metrics (or step series) from this JSON file once the command exits "
                   "(default: metrics.json, if the command writes it). Repeatable.")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, required=True, metavar="-- CMD [ARGS]...")
@click.pass_context
def command(ctx: click.Context, name: str | None, tags: tuple[str, ...], params: tuple[str, ...],
            no_scalars: bool, metrics_files: tuple[str, ...], cmd: tuple[str, ...]) -> None:
    """Run CMD and record it as a run, without changing it.

    The code root is snapshotted first, as for a decorated run. Params come from the
    command line (--k v, --k=v, k=v) and, for Python commands, from what argparse or
    click actually parsed; metrics from output lines such as `f1: 0.91` or
    `epoch 3 loss=0.2` (step series) and from metrics files. The output is shown live
    (through a pseudo-terminal on a terminal) and saved as the artifact `output`
    (`tmt show REF --output`). tmt.log, tmt.save and decorated functions inside the
    command record into this run.

    The run ends completed (exit 0), failed (non-zero exit), interrupted (SIGINT, SIGTERM,
    SIGHUP) or crashed (SIGKILL); tmt exits with the command's status (128+N for signal N)
    and forwards signals to it. See docs/run.md.

    \b
    Examples:
      tmt run -- python train.py --lr 0.1
      tmt run -n sweep -t paper -- python train.py lr=0.1 model=resnet
      tmt run --metrics-file out/scores.json -- ./train.sh
    """
    from tmt.runner.command import RunSpec, run_command

    spec = RunSpec(
        argv=list(cmd),
        name=name,
        tags=list(tags),
        params=parse_assignments(params, "--param"),
        scalars=not no_scalars,
        metrics_files=list(metrics_files),
    )
    result = run_command(spec)
    report(result)
    ctx.exit(result.exit_code)
