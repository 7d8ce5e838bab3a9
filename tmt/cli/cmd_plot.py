"""tmt plot: a step series of several runs, overlaid, in the terminal or to a file."""
from __future__ import annotations

import click

from tmt.cli.common import complete_ref, filter_options


@click.command("plot")
@click.argument("series", metavar="SERIES")
@click.argument("refs", nargs=-1, metavar="[REFS]...", shell_complete=complete_ref)
@click.option("--x", "x", type=click.Choice(["step", "time", "rel"]), default="step", show_default=True,
              help="The x axis: the logged step, the wall-clock time, or the time since each run's first point.")
@click.option("--smooth", metavar="W|ma:N",
              help="Smooth each curve: an EMA weight in [0, 1) (TensorBoard's debiased EMA, e.g. 0.6) or "
                   "ma:N (moving average of N points). Computed on every point before drawing.")
@click.option("--logy", is_flag=True, help="Log y axis (values <= 0 are not drawn; a note counts them).")
@click.option("-o", "--output", "path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Write the picture to FILE instead: .svg, .html (self-contained, works offline) or "
                   ".png (needs the [plot] extra).")
@click.option("--height", type=click.IntRange(min=3), default=16, show_default=True, metavar="ROWS",
              help="Rows of the terminal chart.")
@filter_options
def command(series, refs, x, smooth, logy, path, height, name, since, until, status, where, tags, sort, asc,
            limit) -> None:
    """Plot a step series of several runs, overlaid.

    Give the runs as REFS, or choose them with the filters of `tmt ls` (default: the 10
    newest runs that logged SERIES, -n for more). Each run keeps its colour from plot to
    plot; the legend gives its key, short id, name and the series' last, min and max.
    In the terminal the chart is drawn in braille characters; piped, the same chart
    without colour. With -o the picture goes to a file instead.

    \b
    Examples:
      tmt plot loss last last~1 last~2
      tmt plot loss --name '^sweep' --smooth 0.6 --logy
      tmt plot val_acc --sort val_acc -n 5 --x rel -o best.svg
    """
    from tmt.cli.output import Output, can_encode, message
    from tmt.plot.picture import output_format
    from tmt.plot.series import DEFAULT_RUNS, choose_runs, series_picture
    from tmt.plot.smooth import parse_smoothing
    from tmt.repo import Repo
    from tmt.text import printable

    smooth = parse_smoothing(smooth)  # usage errors before any work
    if path is not None:
        output_format(path)
    repo = Repo.find()
    filters = dict(name=name, since=since, until=until, status=list(status) or None, where=list(where) or None,
                   tags=list(tags) or None)
    runs = choose_runs(repo, series, refs, filters=filters, sort=sort, ascending=asc, limit=limit)
    picture = series_picture(runs, series, x=x, smooth=smooth, logy=logy)
    if path is not None:
        picture.save(path)
        message(f"Wrote {printable(series)!r} of {len(runs)} run{'s' if len(runs) != 1 else ''} to {path}")
        return
    out = Output.detect()
    # braille needs a UTF-8 (or other Unicode) stream; LANG=C pipes get stars and dashes
    chart = picture.chart(width=out.width, height=height, unicode=can_encode("⣿└━", out.stream))
    if out.rich and out.color:
        out.console().print(chart)
    else:
        click.echo(chart.plain(out.width), file=out.stream)
    if not refs and limit is None and len(runs) == DEFAULT_RUNS:
        message(f"({DEFAULT_RUNS} runs drawn, the newest that logged {printable(series)!r}; -n N for more)")
