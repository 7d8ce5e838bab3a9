"""Named remotes of a repository: `.tmt/remotes.toml`, written by `tmt remote add/rm`.

One table per remote, in the order added (the first is the default):

    [origin]
    url = "s3://bucket/team/project"
    endpoint_url = "http://127.0.0.1:8333"   # optional
    profile = "lab"                           # optional: an AWS profile name, never a key
    region = "eu-west-1"                      # optional

No secret is ever written here (docs/remotes.md, "Credentials"). The file is rewritten whole
and atomically; hand edits survive as long as they stay valid TOML of this shape.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from tmt.errors import RemoteError, UsageError
from tmt.repo import Repo, _load_toml
from tmt.store.fsutil import atomic_write
from tmt.text import printable

REMOTES_FILE = "remotes.toml"
#: present in a lazy clone (`tmt clone --lazy`): holds the remote name missing objects come from
from tmt.store.nofollow import LAZY_MARKER as LAZY_FILE  # the store layout names it
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\Z")
KEYS = ("url", "endpoint_url", "profile", "region")


@dataclass(frozen=True, slots=True)
class RemoteSpec:
    name: str
    url: str
    endpoint_url: str | None = None
    profile: str | None = None
    region: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise UsageError(
            f"{printable(str(name))!r} is not a valid remote name",
            "use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit, e.g. origin",
        )
    return name


def normalize_url(url: str, base: Path | None = None) -> str:
    """The URL as stored: s3://bucket/prefix without trailing slashes, or an absolute path."""
    if not isinstance(url, str) or not url.strip():
        raise UsageError("a remote URL is needed: s3://bucket/prefix or a folder path")
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        path = Path(os.path.expanduser(url))
        return os.fspath(path if path.is_absolute() else (base or Path.cwd()) / path)
    scheme = scheme.lower()
    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not _BUCKET_RE.match(bucket):
            raise UsageError(
                f"{printable(bucket)!r} is not an S3 bucket name",
                "bucket names are 3-63 characters: lowercase letters, digits, '.' and '-'; write s3://bucket/prefix",
            )
        parts = [p for p in prefix.split("/") if p]
        if any(p in (".", "..") for p in parts):
            raise UsageError(f"the prefix of {printable(url)} may not contain '.' or '..'")
        return "s3://" + "/".join([bucket, *parts])
    if scheme == "file":
        return normalize_url(rest, base)
    if scheme == "memory":
        return url
    if scheme == "sftp":
        raise RemoteError(
            "sftp:// remotes are not supported yet",
            "mount the server (e.g. sshfs host:/path /mnt/tmt) and add the folder /mnt/tmt, or use an S3 bucket",
        )
    raise UsageError(
        f"unsupported remote URL {printable(url)!r}",
        "use s3://bucket/prefix (any S3-compatible service) or a folder path",
    )


def check_endpoint(endpoint: str | None) -> str | None:
    if endpoint and not endpoint.lower().startswith(("http://", "https://")):
        raise UsageError(
            f"--endpoint-url {printable(endpoint)!r} is not a URL",
            f"write it with its scheme, e.g. https://{printable(endpoint)} (or http:// for a local server)",
        )
    return endpoint or None


def _path(repo: Repo) -> Path:
    return repo.tmt_dir / REMOTES_FILE


def load(repo: Repo) -> list[RemoteSpec]:
    return _specs(repo, _load_toml(_path(repo)))


def _specs(repo: Repo, data: dict) -> list[RemoteSpec]:
    specs = []
    for name, table in data.items():
        if not isinstance(table, dict) or not isinstance(table.get("url"), str) or not _NAME_RE.match(name):
            raise RemoteError(
                f"{_path(repo)}: the remote {printable(name)!r} is malformed",
                "fix or delete it there (or `tmt remote rm` it)",
            )
        kwargs = {k: table[k] for k in KEYS if isinstance(table.get(k), str) and table[k]}
        specs.append(RemoteSpec(name=name, **kwargs))
    return specs


def save(repo: Repo, specs: list[RemoteSpec]) -> None:
    lines = ["# tmt remotes (`tmt remote add/rm`); no secret belongs here: credentials come from",
             "# the environment or ~/.aws (docs/remotes.md)."]
    for spec in specs:
        lines.append("")
        lines.append(f"[{spec.name}]")
        for key in KEYS:
            value = getattr(spec, key)
            if value:
                # JSON strings are valid TOML basic strings (\" \\ \n \uXXXX escapes)
                lines.append(f"{key} = {json.dumps(value)}")
    atomic_write(_path(repo), ("\n".join(lines) + "\n").encode("utf-8"), repo.tmp_dir, make_dirs=True)


def get(repo: Repo, name: str | None) -> RemoteSpec:
    """The remote `name`, or the default one (the first added) when None."""
    specs = load(repo)
    if name is None:
        if not specs:
            raise RemoteError(
                "this repository has no remote",
                "add one: tmt remote add origin s3://bucket/prefix (or a folder path)",
            )
        return specs[0]
    for spec in specs:
        if spec.name == name:
            return spec
    known = ", ".join(s.name for s in specs) or "none"
    raise RemoteError(f"no remote named {printable(name)!r} (known: {known})", "list them with `tmt remote ls`")


def add(repo: Repo, spec: RemoteSpec) -> RemoteSpec:
    check_name(spec.name)
    specs = load(repo)
    if any(s.name == spec.name for s in specs):
        raise RemoteError(
            f"a remote named {spec.name!r} already exists",
            f"remove it first (tmt remote rm {spec.name}) or choose another name",
        )
    url = normalize_url(spec.url)
    if not url.startswith("s3://") and (spec.endpoint_url or spec.profile or spec.region):
        raise UsageError("--endpoint-url, --profile and --region are for s3:// remotes only")
    if "://" not in url and _inside(Path(url), repo.tmt_dir):
        raise UsageError(f"the remote folder {url} is inside this repository's store", "choose a folder outside .tmt/")
    spec = RemoteSpec(spec.name, url, check_endpoint(spec.endpoint_url), spec.profile or None, spec.region or None)
    save(repo, [*specs, spec])
    return spec


def remove(repo: Repo, name: str) -> RemoteSpec:
    data = _load_toml(_path(repo))
    if name not in data:
        get(repo, name)  # raises: no remote of that name
    table = data[name]
    # A malformed entry can be removed too (load's error says so): only the others are checked.
    url = table.get("url") if isinstance(table, dict) else None
    spec = RemoteSpec(name, url if isinstance(url, str) else "malformed")
    save(repo, _specs(repo, {k: v for k, v in data.items() if k != name}))
    lazy = lazy_remote(repo)
    if lazy == name:
        try:
            os.unlink(repo.tmt_dir / LAZY_FILE)
        except FileNotFoundError:
            pass
    return spec


def lazy_remote(repo: Repo) -> str | None:
    from tmt.store.nofollow import read_file

    try:
        return read_file(repo.tmt_dir / LAZY_FILE, limit=4096).decode("utf-8").strip() or None
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:  # a link or FIFO planted there: not ours
        from tmt.errors import StoreError

        raise StoreError(f"{repo.tmt_dir / LAZY_FILE} cannot be read: {getattr(e, 'strerror', None) or e}",
                         "run `tmt fsck`") from None


def set_lazy(repo: Repo, name: str | None) -> None:
    path = repo.tmt_dir / LAZY_FILE
    if name is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    else:
        atomic_write(path, (name + "\n").encode(), repo.tmp_dir)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
