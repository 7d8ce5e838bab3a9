"""Fixtures of the remote tests: a real SeaweedFS for the session, projects with real runs."""
from __future__ import annotations

import os
import uuid

import pytest

import s3servers as servers


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory):
    server = servers.start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def rclone_s3(tmp_path_factory: pytest.TempPathFactory):
    server = servers.start_rclone(tmp_path_factory.mktemp("rclone"))
    yield server
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The test server's credentials, as a user would export them (nothing else of AWS)."""
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", servers.ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", servers.SECRET_KEY)
    return {"AWS_ACCESS_KEY_ID": servers.ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": servers.SECRET_KEY}


@pytest.fixture
def s3_url(seaweed, s3_env) -> str:
    """A fresh prefix of the SeaweedFS bucket for this test."""
    return seaweed.url(f"t-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def local_project(tmp_path, monkeypatch):
    """A project with a store, as the working directory: the remote commands run from it."""
    from cli_helpers import invoke
    from remote_helpers import make_project

    p = make_project(tmp_path / "p")
    monkeypatch.chdir(p)
    invoke("init")
    return p
