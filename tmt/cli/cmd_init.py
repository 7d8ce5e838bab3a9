"""tmt init: create the .tmt/ repository in the working directory."""
from __future__ import annotations

import click


@click.command("init")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
def command(folder: str | None) -> None:
    """Create a .tmt repository in FOLDER (default: the store TMT_DIR names if set, else
    the working directory)."""
    import os
    from pathlib import Path

    from tmt.repo import find_tmt_dir, init
    from tmt.text import printable

    env = os.environ.get("TMT_DIR")
    if folder is None and env:
        existing = Path(env).expanduser() if Path(env).expanduser().is_dir() else None
    else:
        existing = find_tmt_dir(folder)
    repo = init(folder)
    if existing is not None and existing.resolve() == repo.tmt_dir.resolve():
        click.echo(f"Reinitialized existing tmt repository in {printable(repo.tmt_dir)}", err=True)
    else:
        click.echo(f"Initialized empty tmt repository in {printable(repo.tmt_dir)}", err=True)
