"""The rest of the remote messages, on folder and in-memory remotes (no server needed), and
the AWS settings' precedence."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import tmt
from cli_helpers import invoke
from remote_helpers import error_lines, make_project, record
from tmt.errors import MissingDependency, RemoteError, UsageError
from tmt.remote import aws


@pytest.fixture
def no_aws(monkeypatch):
    for key in [k for k in __import__("os").environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)


def test_settings_precedence(no_aws, monkeypatch, tmp_path):
    aws_dir = Path.home() / ".aws"
    aws_dir.mkdir()
    (aws_dir / "credentials").write_text("[default]\naws_access_key_id = D\naws_secret_access_key = default-secret-1\n"
                                         "[lab]\naws_access_key_id = L\naws_secret_access_key = lab-secret-2\n")
    (aws_dir / "config").write_text("[default]\nregion = eu-north-1\n[profile lab]\nregion = eu-west-3\n"
                                    "s3 =\n  endpoint_url = http://lab.example:9000\n")
    s = aws.resolve()
    assert (s.access_key_id, s.region, s.endpoint_url, s.source) == ("D", "eu-north-1", None, "profile default")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "E")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret-3")
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    s = aws.resolve()
    assert (s.access_key_id, s.region, s.source) == ("E", "ap-south-1", "AWS_ACCESS_KEY_ID")
    s = aws.resolve(profile="lab")  # the remote's profile wins over the environment's keys
    assert (s.access_key_id, s.secret_access_key, s.endpoint_url) == ("L", "lab-secret-2", "http://lab.example:9000")
    s = aws.resolve(profile="lab", endpoint_url="http://mine:1", region="us-west-2")
    assert (s.endpoint_url, s.region) == ("http://mine:1", "us-west-2")
    assert "lab-secret-2" not in repr(s) and "env-secret-3" not in repr(aws.resolve())


def test_profiles_tmt_cannot_resolve_alone(no_aws):
    aws_dir = Path.home() / ".aws"
    aws_dir.mkdir()
    (aws_dir / "config").write_text("[profile corp]\nsso_session = corp\nregion = us-east-1\n")
    with pytest.raises(RemoteError) as e:
        aws.resolve(profile="corp")
    assert e.value.message == "AWS profile 'corp' uses sso_session, which tmt cannot use by itself"
    assert e.value.hint == ('export temporary keys first: eval "$(aws configure export-credentials --profile corp '
                            '--format env)"')
    (aws_dir / "config").write_text("[profile broken\n")
    with pytest.raises(RemoteError) as e:
        aws.resolve()
    assert e.value.message.startswith(f"could not read {aws_dir / 'config'}: ")
    assert e.value.hint == "fix or move the file (it holds AWS settings)"


def test_without_the_s3_extra(monkeypatch, s3_env):
    monkeypatch.setitem(sys.modules, "obstore", None)
    from tmt.remote.s3 import S3Backend

    with pytest.raises(MissingDependency) as e:
        S3Backend("bucket", "x")
    assert (e.value.message, e.value.hint) == (
        "S3 remotes need the obstore package", "install the extra: pip install 'ThatMetricTimeline[s3]'")


def test_url_forms():
    from tmt.remote.config import normalize_url

    assert normalize_url("s3://bucket//team/local_project/") == "s3://bucket/team/local_project"
    assert normalize_url("file:///mnt/x") == "/mnt/x"
    with pytest.raises(UsageError) as e:
        normalize_url("s3://bucket/a/../b")
    assert e.value.message == "the prefix of s3://bucket/a/../b may not contain '.' or '..'"
    with pytest.raises(UsageError) as e:
        normalize_url("  ")
    assert e.value.message == "a remote URL is needed: s3://bucket/prefix or a folder path"


def test_remote_ls_show_and_a_malformed_remotes_file(local_project, tmp_path):
    assert invoke("remote", "add", "origin", str(tmp_path / "share")).output == \
        f"Added remote origin: {tmp_path / 'share'} (the default)\n"
    invoke("remote", "add", "lab", "s3://lab-bucket/x", "--endpoint-url", "http://127.0.0.1:1", "--profile", "lab")
    assert invoke("remote", "ls").output.splitlines() == [
        f"origin  {tmp_path / 'share'}  (default)",
        "lab     s3://lab-bucket/x  endpoint http://127.0.0.1:1  profile lab",
    ]
    assert json.loads(invoke("remote", "ls", "--json").output)[1] == {
        "name": "lab", "url": "s3://lab-bucket/x", "endpoint_url": "http://127.0.0.1:1", "profile": "lab", "region": None}
    record(local_project)
    invoke("push")
    assert invoke("remote", "show").output.splitlines() == [
        "name         origin  (default)", f"url          {tmp_path / 'share'}", "runs         1 (1 record versions)"]
    (local_project / ".tmt" / "remotes.toml").write_text('[origin]\nurl = 7\n')
    assert error_lines(invoke("remote", "ls")) == [
        f"Error: {local_project / '.tmt' / 'remotes.toml'}: the remote 'origin' is malformed",
        "hint: fix or delete it there (or `tmt remote rm` it)",
    ]
    (local_project / ".tmt" / "remotes.toml").write_text('[lab]\nurl = "s3://lab-bucket/x"\n\n["b\\u001b[2J"]\nurl = 7\n')
    assert invoke("remote", "rm", "b\x1b[2J").output == "Removed remote b\\x1b[2J (malformed); nothing on it was deleted.\n"
    assert invoke("remote", "ls").output.splitlines() == ["lab  s3://lab-bucket/x  (default)"]


def test_clone_into_a_project_that_has_a_store(local_project, tmp_path):
    r = invoke("clone", str(tmp_path / "share"), str(local_project))
    assert error_lines(r) == [f"Error: {local_project} already holds a tmt store", "hint: pull into it instead: tmt pull"]


def test_options_that_do_not_combine_with_remote(local_project):
    r = invoke("gc", "--remote", "origin", "--keep-last", "2")
    assert r.exit_code == 2 and "--keep-last prunes local runs; it does not combine with --remote" in r.output
    r = invoke("fsck", "--remote", "origin", "--repair")
    assert r.exit_code == 2
    assert "--repair works on the local store; repair a remote by pushing the runs again" in r.output


def test_damaged_local_and_remote_records(local_project, tmp_path):
    good = record(local_project, "good", 0)
    (local_project / ".tmt" / "experiments" / ("f" * 32 + ".json")).write_text("{not json")
    invoke("remote", "add", "origin", str(tmp_path / "share"))
    r = invoke("push")
    assert r.exit_code == 1
    assert "warning: run ffffffff: its record cannot be read" in r.output
    assert "not pushed: ffffffff: unreadable record: " in r.output
    assert "Pushed 1 run to origin" in r.output
    # A record version whose bytes do not match its name is skipped by readers and stops gc.
    (key,) = [p for p in (tmp_path / "share" / "records").rglob("*.json")]
    key.chmod(0o644)
    key.write_text(key.read_text().replace('"good"', '"evil"'))
    b = tmp_path / "b"
    tmt.init(b)
    tmt.remote.add("origin", str(tmp_path / "share"), repo=b)
    result = tmt.pull(repo=b)
    assert result.runs_pulled == [] and result.failed == [{"run": good, "reason": "no readable record version"}]
    with pytest.raises(RemoteError) as e:
        tmt.remote.gc("origin", repo=b)
    assert e.value.message.startswith(f"record version records/{good}/")
    assert "cannot be read (" in e.value.message and e.value.message.endswith(
        "it may reference objects, so gc deletes nothing")
    assert e.value.hint == "run `tmt fsck --remote origin`"


def test_a_lazy_clone_whose_remote_is_gone(tmp_path):
    a = make_project(tmp_path / "a")
    rid = record(a)
    tmt.remote.add("origin", str(tmp_path / "share"), repo=a)
    tmt.push(repo=a)
    tmt.clone(str(tmp_path / "share"), tmp_path / "lazy", lazy=True)
    (tmp_path / "share").rename(tmp_path / "elsewhere")
    with pytest.raises(RemoteError) as e:
        tmt.get(rid, repo=tmp_path / "lazy").artifacts["weights"].load()
    assert e.value.message.startswith("object ") and e.value.message.endswith(
        f"is not in this lazy clone and could not be fetched from origin: the remote folder {tmp_path / 'share'} "
        "does not exist")
    (tmp_path / "elsewhere").rename(tmp_path / "share")
    oid = tmt.get(rid, repo=tmp_path / "lazy").record.artifacts[0]["object"]
    (tmp_path / "share" / "objects" / oid[:2] / oid[2:]).unlink()
    with pytest.raises(RemoteError) as e:
        tmt.get(rid, repo=tmp_path / "lazy").artifacts["weights"].load()
    assert e.value.message == (f"object {oid} is not in this lazy clone and could not be fetched from origin: "
                               f"{tmp_path / 'share'} does not have it either")
    assert e.value.hint == "run `tmt fsck --remote origin` there; push the run again from a machine that has it"


def test_an_endpoint_without_its_scheme(local_project):
    r = invoke("remote", "add", "origin", "s3://bucket/x", "--endpoint-url", "127.0.0.1:8333")
    assert r.exit_code == 2
    assert error_lines(r) == ["Error: --endpoint-url '127.0.0.1:8333' is not a URL",
                          "hint: write it with its scheme, e.g. https://127.0.0.1:8333 (or http:// for a local server)"]
