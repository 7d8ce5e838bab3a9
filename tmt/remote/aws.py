"""AWS conventions for S3 remotes: credentials, region and endpoint, never stored by tmt.

Where each setting comes from, first match wins (as the AWS CLI does):

- credentials: the remote's `--profile` (from ~/.aws/credentials, then ~/.aws/config);
  else AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN); else the profile
  AWS_PROFILE names, else `default`, from the same files. AWS_SHARED_CREDENTIALS_FILE and
  AWS_CONFIG_FILE move the files. AWS_SKIP_SIGNATURE=true sends unsigned requests (public
  buckets). Web-identity and container credentials (AWS_WEB_IDENTITY_TOKEN_FILE,
  AWS_CONTAINER_CREDENTIALS_*) are left to the client library.
- endpoint: the remote's `--endpoint-url`; else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL; else
  the profile's `endpoint_url` (or `s3 =` / `endpoint_url` sub-setting); else AWS itself.
- region: the remote's `--region`; else AWS_REGION, AWS_DEFAULT_REGION; else the profile's
  `region`; else us-east-1.

Nothing here is ever written into .tmt/: the remote's settings hold names (a profile), never
secrets.
"""
from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

from tmt.errors import RemoteError

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class Settings:
    access_key_id: str | None
    secret_access_key: str | None
    session_token: str | None
    endpoint_url: str | None
    region: str
    skip_signature: bool
    source: str  # where the credentials came from, for messages: "AWS_ACCESS_KEY_ID", "profile x"

    def __repr__(self) -> str:  # never print a secret, even in a traceback
        return f"Settings(source={self.source!r}, endpoint_url={self.endpoint_url!r}, region={self.region!r})"


def _files() -> tuple[Path, Path]:
    home = Path(os.path.expanduser("~"))
    creds = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"
    config = os.environ.get("AWS_CONFIG_FILE") or home / ".aws" / "config"
    return Path(creds), Path(config)


def _read_ini(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(default_section="__none__", strict=False)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, configparser.Error) as e:
        raise RemoteError(f"could not read {path}: {e}", "fix or move the file (it holds AWS settings)") from None
    return parser


def _profile(name: str) -> tuple[dict[str, str], dict[str, str]]:
    """(credentials file section, config file section) of profile `name` ({} if absent)."""
    creds_path, config_path = _files()
    creds, config = _read_ini(creds_path), _read_ini(config_path)
    csec = dict(creds.items(name)) if creds.has_section(name) else {}
    key = name if name == "default" else f"profile {name}"
    fsec = dict(config.items(key)) if config.has_section(key) else {}
    if not fsec and name == "default" and config.has_section("profile default"):
        fsec = dict(config.items("profile default"))
    return csec, fsec


def _nested(value: str | None, key: str) -> str | None:
    """`s3 =\\n  endpoint_url = …` in ~/.aws/config: a sub-setting of the s3 key."""
    if not value:
        return None
    for line in value.splitlines():
        k, sep, v = line.partition("=")
        if sep and k.strip() == key:
            return v.strip() or None
    return None


def resolve(*, profile: str | None = None, endpoint_url: str | None = None, region: str | None = None) -> Settings:
    env = os.environ
    skip = env.get("AWS_SKIP_SIGNATURE", "").lower() in ("1", "true", "yes")
    name = profile or env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    csec, fsec = _profile(name)
    if profile and not csec and not fsec:
        creds_path, config_path = _files()
        raise RemoteError(
            f"AWS profile {profile!r} is not in {creds_path} or {config_path}",
            f"add it there (aws configure --profile {profile}), or change the remote's --profile",
        )
    key_id = secret = token = None
    source = "none"
    if profile is None and env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        key_id, secret = env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN")
        source = "AWS_ACCESS_KEY_ID"
    else:
        for sec in (csec, fsec):
            if sec.get("aws_access_key_id") and sec.get("aws_secret_access_key"):
                key_id, secret = sec["aws_access_key_id"], sec["aws_secret_access_key"]
                token = sec.get("aws_session_token")
                source = f"profile {name}"
                break
    if key_id is None and not skip and not _delegated(env):
        unsupported = [k for k in ("sso_session", "sso_start_url", "role_arn", "credential_process") if k in fsec]
        creds_path, _ = _files()
        if unsupported:
            raise RemoteError(
                f"AWS profile {name!r} uses {unsupported[0]}, which tmt cannot use by itself",
                f"export temporary keys first: eval \"$(aws configure export-credentials --profile {name} --format env)\"",
            )
        raise RemoteError(
            "no AWS credentials found",
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with keys in "
            f"{creds_path} (or pass --profile to `tmt remote add`); AWS_SKIP_SIGNATURE=true for a public bucket",
        )
    endpoint = (
        endpoint_url
        or env.get("AWS_ENDPOINT_URL_S3")
        or env.get("AWS_ENDPOINT_URL")
        or _nested(fsec.get("s3"), "endpoint_url")
        or fsec.get("endpoint_url")
    )
    reg = region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or fsec.get("region") or DEFAULT_REGION
    return Settings(key_id, secret, token, endpoint or None, reg, skip, source)


def _delegated(env: os._Environ[str] | dict[str, str]) -> bool:
    """Credentials the client library fetches itself (a Kubernetes or ECS role)."""
    return bool(env.get("AWS_WEB_IDENTITY_TOKEN_FILE") or env.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                or env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI"))
