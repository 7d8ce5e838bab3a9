"""Every remote error a user can meet says what is wrong and what to do, and never hangs:
wrong keys, an unreachable or silent endpoint, a missing bucket, no credentials, bad names
and URLs, corrupt or foreign remotes."""
from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path

import pytest

from cli_helpers import invoke
from remote_helpers import error_lines, make_project, record, tmt_cmd

# A real S3 server and real folder remotes: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow


def test_wrong_secret_names_the_fix(local_project, seaweed, s3_url, monkeypatch):
    invoke("remote", "add", "origin", s3_url, "--endpoint-url", seaweed.endpoint)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    r = invoke("push")
    assert r.exit_code == 1
    assert error_lines(r) == [
        f"Error: {s3_url} at {seaweed.endpoint} refused the credentials from AWS_ACCESS_KEY_ID: the secret key does "
        "not match (SignatureDoesNotMatch)",
        "hint: check AWS_SECRET_ACCESS_KEY (or aws_secret_access_key in the profile)",
    ]


def test_unknown_access_key(local_project, seaweed, s3_url, monkeypatch):
    invoke("remote", "add", "origin", s3_url, "--endpoint-url", seaweed.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    r = invoke("pull")
    assert error_lines(r) == [
        f"Error: {s3_url} at {seaweed.endpoint} does not accept the access key from AWS_ACCESS_KEY_ID (InvalidAccessKeyId)",
        "hint: check AWS_ACCESS_KEY_ID / the profile (and AWS_SESSION_TOKEN), and that --endpoint-url is the "
        "service the key belongs to",
    ]


def test_missing_bucket(local_project, seaweed, s3_env):
    invoke("remote", "add", "origin", "s3://no-such-bucket/x", "--endpoint-url", seaweed.endpoint)
    r = invoke("push")
    assert error_lines(r) == [
        f"Error: the bucket 'no-such-bucket' does not exist at {seaweed.endpoint}",
        "hint: create it (e.g. `aws s3 mb s3://no-such-bucket`), or fix the remote's URL or --endpoint-url",
    ]


def test_unreachable_endpoint_fails_fast(local_project, s3_env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    invoke("remote", "add", "origin", "s3://tmt-test/x", "--endpoint-url", f"http://127.0.0.1:{port}")
    r = invoke("pull")
    assert error_lines(r) == [
        f"Error: cannot reach http://127.0.0.1:{port} (connection refused, after 3 retries)",
        "hint: check --endpoint-url (or AWS_ENDPOINT_URL) and that the service is up and reachable",
    ]


@pytest.mark.slow
def test_a_server_that_never_answers_times_out(local_project, s3_env, monkeypatch):
    """A listener that accepts and stays silent (a hung proxy): bounded by the read timeout."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    monkeypatch.setenv("TMT_S3_READ_TIMEOUT", "1")
    try:
        invoke("remote", "add", "origin", "s3://tmt-test/x", "--endpoint-url", f"http://127.0.0.1:{srv.getsockname()[1]}")
        r = invoke("pull")
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        srv.close()
    assert r.exit_code == 1
    assert error_lines(r)[0].startswith("Error: cannot reach http://127.0.0.1:") and "timed out" in error_lines(r)[0]


def test_no_credentials(local_project, seaweed, monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    invoke("remote", "add", "origin", "s3://tmt-test/x", "--endpoint-url", seaweed.endpoint)
    r = invoke("push")
    home = Path.home()
    assert error_lines(r) == [
        "Error: no AWS credentials found",
        "hint: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with keys in "
        f"{home}/.aws/credentials (or pass --profile to `tmt remote add`); AWS_SKIP_SIGNATURE=true for a public bucket",
    ]


def test_profiles_from_the_aws_files(local_project, seaweed, s3_url, monkeypatch):
    import s3servers

    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(key, raising=False)
    aws = Path.home() / ".aws"
    aws.mkdir()
    (aws / "credentials").write_text(
        f"[lab]\naws_access_key_id = {s3servers.ACCESS_KEY}\naws_secret_access_key = {s3servers.SECRET_KEY}\n")
    (aws / "config").write_text(f"[profile lab]\nregion = eu-west-1\nendpoint_url = {seaweed.endpoint}\n")
    record(local_project)
    invoke("remote", "add", "origin", s3_url, "--profile", "lab")
    r = invoke("push")
    assert r.exit_code == 0 and r.output.startswith("Pushed 1 run"), r.output
    info = json.loads(invoke("remote", "show", "--json").output)
    assert (info["credentials"], info["region"], info["endpoint"]) == ("profile lab", "eu-west-1", seaweed.endpoint)
    # AWS_PROFILE does the same without --profile.
    invoke("remote", "add", "other", s3_url)
    monkeypatch.setenv("AWS_PROFILE", "lab")
    assert invoke("pull", "other").exit_code == 0
    r = invoke("remote", "add", "ghost", s3_url, "--profile", "ghost")
    r = invoke("pull", "ghost")
    assert error_lines(r) == [
        f"Error: AWS profile 'ghost' is not in {aws}/credentials or {aws}/config",
        "hint: add it there (aws configure --profile ghost), or change the remote's --profile",
    ]
    assert "aws_secret" not in (local_project / ".tmt" / "remotes.toml").read_text()


def test_remote_names_and_urls(local_project):
    assert error_lines(invoke("push")) == [
        "Error: this repository has no remote",
        "hint: add one: tmt remote add origin s3://bucket/prefix (or a folder path)",
    ]
    assert invoke("remote", "add", "origin", "/tmp/x").exit_code == 0
    assert error_lines(invoke("remote", "add", "origin", "/tmp/y")) == [
        "Error: a remote named 'origin' already exists",
        "hint: remove it first (tmt remote rm origin) or choose another name",
    ]
    assert error_lines(invoke("pull", "nope")) == [
        "Error: no remote named 'nope' (known: origin)", "hint: list them with `tmt remote ls`"]
    assert error_lines(invoke("remote", "add", "bad/name", "/tmp/x")) == [
        "Error: 'bad/name' is not a valid remote name",
        "hint: use letters, digits, '.', '_' and '-' (at most 64), starting with a letter or digit, e.g. origin",
    ]
    assert error_lines(invoke("remote", "add", "s", "sftp://host/path")) == [
        "Error: sftp:// remotes are not supported yet",
        "hint: mount the server (e.g. sshfs host:/path /mnt/tmt) and add the folder /mnt/tmt, or use an S3 bucket",
    ]
    assert error_lines(invoke("remote", "add", "g", "gs://bucket/x")) == [
        "Error: unsupported remote URL 'gs://bucket/x'",
        "hint: use s3://bucket/prefix (any S3-compatible service) or a folder path",
    ]
    assert error_lines(invoke("remote", "add", "b", "s3://Bad_Bucket/x")) == [
        "Error: 'Bad_Bucket' is not an S3 bucket name",
        "hint: bucket names are 3-63 characters: lowercase letters, digits, '.' and '-'; write s3://bucket/prefix",
    ]
    assert error_lines(invoke("remote", "add", "e", "/tmp/z", "--endpoint-url", "http://x")) == [
        "Error: --endpoint-url, --profile and --region are for s3:// remotes only"]
    r = invoke("remote", "add", "in", str(local_project / ".tmt" / "r"))
    assert error_lines(r)[0].startswith("Error: the remote folder ") and "inside this repository's store" in error_lines(r)[0]
    assert invoke("remote", "rm", "origin").output == "Removed remote origin (/tmp/x); nothing on it was deleted.\n"
    assert invoke("remote", "ls").output == ""


@pytest.mark.slow
def test_corrupt_object_on_the_remote_is_never_published(tmp_path):
    a = make_project(tmp_path / "a")
    rid = record(a)
    tmt_cmd("remote", "add", "disk", str(tmp_path / "share"), cwd=a)
    tmt_cmd("push", cwd=a)
    victim = next(p for p in (tmp_path / "share" / "objects").rglob("*") if p.is_file() and p.stat().st_size > 100_000)
    victim.chmod(0o644)
    victim.write_bytes(b"x" * victim.stat().st_size)
    b = make_project(tmp_path / "b")
    tmt_cmd("remote", "add", "disk", str(tmp_path / "share"), cwd=b)
    out = tmt_cmd("pull", cwd=b, check=False)
    assert out.returncode == 1
    oid = victim.parent.name + victim.name
    assert f"warning: object {oid} is corrupt: the copy on {tmp_path / 'share'} does not match its id" in out.stderr
    assert f"not pulled: {rid[:8]}: some of its objects could not be fetched (see the warnings)" in out.stderr
    assert not (b / ".tmt" / "objects" / oid[:2] / oid[2:]).exists()
    assert json.loads(tmt_cmd("ls", "--json", cwd=b).stdout) == []  # nothing half-visible
    fsck = tmt_cmd("fsck", "--remote", "disk", cwd=b, check=False)
    assert fsck.returncode == 1 and f"corrupt_object: object {oid} does not match its id" in fsck.stdout


def test_a_newer_remote_format_is_refused(tmp_path):
    share = tmp_path / "share"
    share.mkdir()
    (share / "tmt-remote.json").write_text('{"format": 7}')
    p = make_project(tmp_path / "p")
    tmt_cmd("remote", "add", "disk", str(share), cwd=p)
    out = tmt_cmd("clone", str(share), str(tmp_path / "c"), cwd=tmp_path, check=False)
    assert out.stderr.splitlines() == [
        f"Error: {share} holds tmt-remote.json of format '7'; this tmt reads format 1",
        "hint: upgrade tmt (pip install -U ThatMetricTimeline), or choose another prefix",
    ]
    assert not (tmp_path / "c").exists()


def test_clone_refuses_a_folder_in_use(tmp_path):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    out = tmt_cmd("clone", str(tmp_path / "share"), str(tmp_path / "busy"), cwd=tmp_path, check=False)
    assert out.returncode == 2
    assert out.stderr.splitlines() == [
        f"Error: {tmp_path / 'busy'} exists and is not an empty folder",
        "hint: choose a new folder: tmt clone URL DIR",
    ]


def test_a_missing_remote_folder_is_named(local_project, tmp_path):
    invoke("remote", "add", "disk", str(tmp_path / "unmounted"))
    assert error_lines(invoke("pull", "disk")) == [
        f"Error: the remote folder {tmp_path / 'unmounted'} does not exist",
        "hint: check that the disk or share is mounted and the path is right (tmt remote show)",
    ]
    invoke("remote", "add", "deep", str(tmp_path / "no" / "such" / "mount"))
    record(local_project)
    assert error_lines(invoke("push", "deep")) == [
        f"Error: cannot create the remote folder {tmp_path / 'no' / 'such' / 'mount'}: "
        f"{tmp_path / 'no' / 'such'} does not exist",
        "hint: check that the disk or share is mounted, or fix the remote's path with `tmt remote add`",
    ]


def test_a_fifo_in_a_folder_remote_is_refused_never_waited_on(local_project, tmp_path):
    """A shared folder is untrusted: a FIFO where a record or an object belongs is an error
    naming it (pull, clone, fsck --remote), never a wait."""
    record(local_project)
    share = tmp_path / "share"
    invoke("remote", "add", "disk", str(share))
    assert invoke("push", "disk").exit_code == 0
    rec = next(share.glob("records/*/*.json"))
    obj = next(p for p in share.glob("objects/*/*"))
    for planted in (rec, obj):
        planted.chmod(0o644)
        planted.unlink()
        os.mkfifo(planted)
    b = make_project(tmp_path / "b")
    tmt_cmd("remote", "add", "disk", str(share), cwd=b)
    for argv, cwd in ((["pull", "disk"], b), (["fsck", "--remote", "disk"], b),
                      (["clone", str(share), str(tmp_path / "c")], tmp_path)):
        out = tmt_cmd(*argv, cwd=cwd, check=False, timeout=60)  # a wait would time out
        assert out.returncode == 1, (argv, out.stdout, out.stderr)
        assert "on the remote " + str(share) + " is a FIFO, where tmt keeps its own; tmt never follows, reads or " \
            "writes through it" in out.stderr, (argv, out.stderr)
        assert "Traceback" not in out.stderr


def test_push_never_writes_through_links_planted_in_a_folder_remote(local_project, tmp_path):
    rid = record(local_project)
    share, outside = tmp_path / "share", tmp_path / "outside"
    (share / "objects").mkdir(parents=True)
    (share / "records").mkdir()
    outside.mkdir()
    for name in ("tmp", "records/" + rid):
        os.symlink(outside, share / name)
    for fan in os.listdir(local_project / ".tmt" / "objects"):
        os.symlink(outside, share / "objects" / fan)
    invoke("remote", "add", "disk", str(share))
    r = invoke("push", "disk")
    assert r.exit_code == 1
    assert f"Error: tmp on the remote {share} is a symbolic link, where tmt keeps its own; tmt never follows, " \
        "reads or writes through it" in r.output
    assert "hint: someone changed the remote folder: remove that entry there (nothing else is touched)" in r.output
    (share / "tmp").unlink()
    r = invoke("push", "disk")
    assert r.exit_code == 1 and "is a symbolic link, where tmt keeps its own" in r.output
    assert os.listdir(outside) == []
