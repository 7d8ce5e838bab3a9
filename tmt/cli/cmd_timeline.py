"""tmt timeline: a metric across runs in the order they ran, its jumps explained."""
from __future__ import annotations

import click

from tmt.cli.common import filter_options


@click.command("timeline")
@click.argument("metric", metavar="METRIC")
@filter_options(sort=False)
@click.option("--json", "as_json", is_flag=True, help="Print the runs, the noise and the jumps with their causes as JSON.")
@click.option("-o", "--output", "path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the picture to FILE instead: .svg, .html (self-contained, works offline) or .png "
                   "(needs the [plot] extra).")
@click.option("--height", type=click.IntRange(min=3), default=14, show_default=True, metavar="ROWS",
              help="Rows of the terminal chart.")
def command(metric, name, since, until, status, where, tags, limit, as_json, path, height) -> None:
    """A metric across runs in the order they ran, its jumps explained.

    tmt estimates the run-to-run noise (from repeated runs with the same code and
    params, else from successive differences), finds the jumps that stand out of it,
    and lists for each what changed between the runs on either side: params, files,
    the Python functions whose code changed, package versions. Changes that also
    happened where the metric did not jump (a seed set anew at every run) are ranked
    down. -n N keeps the newest N runs.

    \b
    JSON: {"metric", "noise": {sigma, method, samples}, "runs": [{id, name, created_at,
    value, level, jump}], "jumps": [{number, index, run, before, delta, level_before,
    level_after, z, params: {KEY: {before, after, status, score, changed_at}},
    files: [PATH], functions: ["PATH:QUALNAME"], packages: {NAME: {...}},
    causes: [{kind, name, before, after, status, note, score, changed_at, at_jumps}]}],
    "quiet": [{run, before, kind, name}], "skipped"}. Lists are ranked, best first.

    \b
    Examples:
      tmt timeline f1
      tmt timeline val_loss --name '^resnet' --since 30d --json
      tmt timeline acc -o timeline.html
    """
    from tmt.cli.output import Output, can_encode, dump_json, message
    from tmt.plot.picture import output_format
    from tmt.text import printable
    from tmt.timeline.analysis import timeline

    formats = (".svg", ".html", ".png")
    if path is not None:
        output_format(path, formats)
    tl = timeline(metric, name=name, since=since, until=until, status=list(status) or None,
                  where=list(where) or None, tags=list(tags) or None, limit=limit)
    if as_json:
        dump_json(tl.to_json())
        return
    picture = tl.picture()
    if path is not None:
        picture.save(path, formats)
        message(f"Wrote the timeline of {printable(metric)!r} ({len(tl.runs)} runs, {len(tl.jumps)} "
                f"jump{'s' if len(tl.jumps) != 1 else ''}) to {path}")
        return
    out = Output.detect()
    # braille needs a UTF-8 (or other Unicode) stream; LANG=C pipes get stars and dashes
    chart = picture.chart(width=out.width, height=height, unicode=can_encode("⣿└━", out.stream))
    if out.rich and out.color:
        out.console().print(chart)
    else:
        click.echo(chart.plain(out.width), file=out.stream)
