"""tmt clone: a new project folder holding a remote's runs."""
from __future__ import annotations

import click

from tmt.cli.remote_common import plural


@click.command("clone")
@click.argument("url")
@click.argument("directory", required=False, metavar="[DIR]")
@click.option("--lazy", is_flag=True,
              help="Fetch the records only; code and artifacts are downloaded when a command needs them.")
@click.option("--endpoint-url", metavar="URL", help="The S3 service's URL (MinIO, Ceph, SeaweedFS, R2...).")
@click.option("--profile", metavar="P", help="The AWS profile whose keys to use.")
@click.option("--region", metavar="R", help="The bucket's region.")
@click.option("--json", "as_json", is_flag=True, help="Print a summary as JSON on stdout.")
def command(url: str, directory: str | None, lazy: bool, endpoint_url: str | None, profile: str | None,
            region: str | None, as_json: bool) -> None:
    """Make DIR (default: the last part of URL) a project holding the runs of the remote at
    URL (s3://bucket/prefix or a folder), added as the remote `origin`.

    No run's code is checked out: `tmt checkout REF` restores the one you want.
    """
    from tmt.cli.output import dump_json, fmt_size
    from tmt.progress import StderrProgress
    from tmt.remote.clone import clone
    from tmt.text import printable

    with StderrProgress() as progress:
        result = clone(url, directory, lazy=lazy, endpoint_url=endpoint_url, profile=profile, region=region,
                       progress=progress)
    if as_json:
        dump_json(result.to_dict())
        return
    pulled = result.pull
    line = f"Cloned {printable(result.url)} into {printable(result.path)}: {plural(len(pulled.runs_pulled), 'run')}"
    if lazy:
        line += " (lazy: code and artifacts are fetched from origin when a command needs them)."
    else:
        line += f", {plural(pulled.objects_downloaded, 'object')} ({fmt_size(pulled.bytes_downloaded)})."
    click.echo(line)
