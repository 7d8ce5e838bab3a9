"""tmt remote: name the stores runs are pushed to and pulled from (add, ls, rm, show)."""
from __future__ import annotations

import click


@click.group("remote")
def command() -> None:
    """Manage remotes: tmt stores in S3-compatible object storage or a folder.

    \b
    tmt remote add origin s3://bucket/team/project [--endpoint-url URL] [--profile P] [--region R]
    tmt remote add backup /mnt/share/tmt
    tmt remote ls | tmt remote show origin | tmt remote rm origin

    The first remote added is the default of push and pull. Credentials are never stored:
    they come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or an AWS profile
    (~/.aws/credentials), see docs/remotes.md.
    """


@command.command("add")
@click.argument("name")
@click.argument("url")
@click.option("--endpoint-url", metavar="URL", help="The S3 service's URL (MinIO, Ceph, SeaweedFS, R2...); default: AWS.")
@click.option("--profile", metavar="P", help="The AWS profile (in ~/.aws/credentials) whose keys to use.")
@click.option("--region", metavar="R", help="The bucket's region (default: AWS_REGION, the profile's, or us-east-1).")
def add(name: str, url: str, endpoint_url: str | None, profile: str | None, region: str | None) -> None:
    """Add the remote NAME at URL: s3://bucket/prefix or a folder path (sftp:// later).

    Nothing is contacted: `tmt remote show NAME` checks the remote."""
    import tmt.remote
    from tmt.remote import config
    from tmt.repo import Repo
    from tmt.text import printable

    spec = tmt.remote.add(name, url, endpoint_url=endpoint_url, profile=profile, region=region)
    default = config.load(Repo.find())[0].name == spec.name
    click.echo(f"Added remote {spec.name}: {printable(spec.url)}" + (" (the default)" if default else ""))


@command.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print the remotes as JSON.")
def ls(as_json: bool) -> None:
    """List the remotes, the default first."""
    import tmt.remote
    from tmt.cli.output import dump_json
    from tmt.text import printable

    specs = tmt.remote.ls()
    if as_json:
        dump_json([s.to_dict() for s in specs])
        return
    width = max((len(s.name) for s in specs), default=0)
    for i, s in enumerate(specs):
        extra = f"  endpoint {printable(s.endpoint_url)}" if s.endpoint_url else ""
        extra += f"  profile {printable(s.profile)}" if s.profile else ""
        click.echo(f"{s.name:<{width}}  {printable(s.url)}{extra}" + ("  (default)" if i == 0 else ""))


@command.command("rm")
@click.argument("name")
def rm(name: str) -> None:
    """Forget the remote NAME (nothing on the remote is deleted)."""
    import tmt.remote
    from tmt.text import printable

    spec = tmt.remote.rm(name)
    click.echo(f"Removed remote {printable(spec.name)} ({printable(spec.url)}); nothing on it was deleted.")


@command.command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the settings and counts as JSON.")
def show(name: str | None, as_json: bool) -> None:
    """Show a remote's settings and what it holds (contacts it). Default: the default remote."""
    import tmt.remote
    from tmt.cli.output import dump_json
    from tmt.text import printable

    info = tmt.remote.show(name)
    if as_json:
        dump_json(info)
        return
    rows = [("name", info["name"] + ("  (default)" if info["default"] else "")), ("url", info["url"])]
    for key in ("endpoint", "region", "profile", "credentials"):
        if info.get(key):
            rows.append((key, str(info[key])))
    if info["lazy"]:
        rows.append(("lazy", "yes: objects are fetched from here when a command needs them"))
    if info["initialized"]:
        rows.append(("runs", f"{info['runs']:,} ({info['record_versions']:,} record versions)"))
    else:
        rows.append(("runs", "none: nothing was pushed here yet"))
    if info["pending_gcs"]:
        rows.append(("gc", f"{info['pending_gcs']} collection(s) waiting for pushes to end"))
    for key, value in rows:
        click.echo(f"{key:<12} {printable(value)}")
