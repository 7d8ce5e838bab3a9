"""push, pull and clone through a real SeaweedFS with the real `tmt` command: round trips byte
for byte, two machines sharing one bucket, record versions, filters, lazy clones."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from remote_helpers import make_project, record, store_files, tmt_cmd


def _add(project: Path, url: str, endpoint: str, name: str = "origin") -> None:
    tmt_cmd("remote", "add", name, url, "--endpoint-url", endpoint, cwd=project)


@pytest.mark.slow
def test_round_trip_byte_for_byte(tmp_path, seaweed, s3_url):
    a = make_project(tmp_path / "laptop")
    ids = [record(a, "train", n) for n in range(2)]
    _add(a, s3_url, seaweed.endpoint)
    out = tmt_cmd("push", cwd=a)
    assert out.stdout.startswith("Pushed 2 runs to origin (" + s3_url + "):")
    out = tmt_cmd("clone", s3_url, str(tmp_path / "b"), "--endpoint-url", seaweed.endpoint, cwd=tmp_path)
    assert "Cloned " + s3_url in out.stdout and ": 2 runs," in out.stdout
    b = tmp_path / "b"
    # Records keep their bytes; every object of the runs arrives unchanged.
    sa, sb = store_files(a / ".tmt"), store_files(b / ".tmt")
    assert {k: v for k, v in sa.items() if k.startswith("experiments/")} == \
           {k: v for k, v in sb.items() if k.startswith("experiments/")}
    assert set(sb) <= set(sa) and all(sa[k] == sb[k] for k in sb)
    # Code, series and artifacts as the runs left them.
    tmt_cmd("checkout", ids[1], "-o", str(tmp_path / "view"), cwd=b)
    assert (tmp_path / "view" / "pkg" / "model.py").read_text() == (a / "pkg" / "model.py").read_text()
    assert not (tmp_path / "view" / "data").exists()
    import tmt

    ra, rb = tmt.get(ids[1], repo=a), tmt.get(ids[1], repo=b)
    sa_, sb_ = ra.series("loss"), rb.series("loss")
    assert (sb_.steps, sb_.values, sb_.times) == (sa_.steps, sa_.values, sa_.times)
    assert rb.artifacts["weights"].load() == {"weights": [0, 1, 2, 3]}
    assert rb.artifacts["blob"].load() == ra.artifacts["blob"].load()
    assert tmt_cmd("fsck", cwd=b).returncode == 0
    # The clone's remote is origin, and it has nothing new to pull.
    assert tmt_cmd("remote", "ls", cwd=b).stdout.split()[:2] == ["origin", s3_url]
    assert "Already up to date" in tmt_cmd("pull", cwd=b).stdout


@pytest.mark.slow
def test_push_with_nothing_new_lists_only_records(tmp_path, seaweed, s3_url):
    a = make_project(tmp_path / "a")
    record(a)
    _add(a, s3_url, seaweed.endpoint)
    tmt_cmd("push", cwd=a)
    out = tmt_cmd("push", "--json", cwd=a)
    summary = json.loads(out.stdout)
    assert summary["runs_pushed"] == [] and summary["runs_up_to_date"] == 1
    assert summary["objects_uploaded"] == 0 and summary["create_only"] is None  # no probe, no lease
    assert "Everything up to date on origin" in tmt_cmd("push", cwd=a).stdout


@pytest.mark.slow
def test_two_machines_share_one_bucket(tmp_path, seaweed, s3_url):
    """Two project folders stand for a cluster node and a laptop: each records, pushes,
    pulls and checks out the other's runs."""
    node, laptop = make_project(tmp_path / "node"), make_project(tmp_path / "laptop")
    (node / "pkg" / "model.py").write_text("def f(x):\n    return 3 * x  # tuned on the cluster\n")
    for p in (node, laptop):
        _add(p, s3_url, seaweed.endpoint)
    on_node = record(node, "cluster", 1)
    on_laptop = record(laptop, "local", 2)
    tmt_cmd("push", cwd=node)
    tmt_cmd("push", cwd=laptop)
    out = tmt_cmd("pull", cwd=laptop)
    assert out.stdout.startswith("Pulled 1 run from origin")
    tmt_cmd("pull", cwd=node)
    for p in (node, laptop):
        ls = json.loads(tmt_cmd("ls", "--json", cwd=p).stdout)
        assert {r["id"] for r in ls} == {on_node, on_laptop}
    tmt_cmd("checkout", on_node, "-o", str(tmp_path / "node-code"), cwd=laptop)
    assert "3 * x" in (tmp_path / "node-code" / "pkg" / "model.py").read_text()
    tmt_cmd("checkout", on_laptop, "-o", str(tmp_path / "laptop-code"), cwd=node)
    assert "2 * x" in (tmp_path / "laptop-code" / "pkg" / "model.py").read_text()
    diff = tmt_cmd("diff", on_node, on_laptop, "--stat", cwd=laptop)
    assert "pkg/model.py" in diff.stdout
    assert tmt_cmd("fsck", "--remote", "origin", cwd=node).returncode == 0


@pytest.mark.slow
def test_a_running_record_is_replaced_by_its_final_version(tmp_path, seaweed, s3_url):
    import tmt
    from tmt.records.io import read_record, record_path, write_record

    a = make_project(tmp_path / "a")
    rid = record(a)
    repo = tmt.Repo(a / ".tmt")
    final = read_record(record_path(repo.experiments_dir, rid))
    running = read_record(record_path(repo.experiments_dir, rid))
    running.status, running.finished_at, running.duration_s, running.metrics = "running", None, None, {}
    write_record(repo.experiments_dir, repo.tmp_dir, running)
    _add(a, s3_url, seaweed.endpoint)
    tmt_cmd("push", cwd=a)
    tmt_cmd("clone", s3_url, str(tmp_path / "b"), "--endpoint-url", seaweed.endpoint, cwd=tmp_path)
    assert read_record(record_path(tmp_path / "b" / ".tmt" / "experiments", rid)).status == "running"
    write_record(repo.experiments_dir, repo.tmp_dir, final)  # the run ends
    tmt_cmd("push", cwd=a)
    assert tmt_cmd("pull", cwd=tmp_path / "b").stdout.startswith("Pulled 1 run")
    got = read_record(record_path(tmp_path / "b" / ".tmt" / "experiments", rid))
    assert got.status == "completed" and got.metrics == final.metrics
    # The older version stays on the remote; a reader keeps the most final one.
    versions = tmt.remote.show(repo=a)["record_versions"]
    assert versions == 2
    # Pushing the stale running version again from elsewhere changes nothing.
    assert "Everything up to date" in tmt_cmd("push", cwd=tmp_path / "b").stdout


@pytest.mark.slow
def test_push_refs_and_pull_filters(tmp_path, seaweed, s3_url):
    a = make_project(tmp_path / "a")
    first = record(a, "baseline", 0)
    second = record(a, "resnet", 1)
    _add(a, s3_url, seaweed.endpoint)
    out = json.loads(tmt_cmd("push", "origin", first, "--json", cwd=a).stdout)
    assert out["runs_pushed"] == [first]
    tmt_cmd("push", "--name", "^res", cwd=a)
    b = make_project(tmp_path / "b")
    _add(b, s3_url, seaweed.endpoint)
    out = tmt_cmd("pull", "--name", "^res", cwd=b)
    assert out.stdout.splitlines() == [
        f"Pulled 1 run from origin ({s3_url}): " + out.stdout.split(": ", 1)[1].splitlines()[0],
        "1 other run not pulled (filters).",
    ]
    assert [r["id"] for r in json.loads(tmt_cmd("ls", "--json", cwd=b).stdout)] == [second]
    out = json.loads(tmt_cmd("pull", "--json", "--records-only", cwd=b).stdout)
    assert out["runs_pulled"] == [first] and out["objects_downloaded"] == 0


@pytest.mark.slow
def test_lazy_clone_fetches_objects_when_a_command_needs_them(tmp_path, seaweed, s3_url):
    import tmt

    a = make_project(tmp_path / "a")
    rid = record(a, "train", 4)
    _add(a, s3_url, seaweed.endpoint)
    tmt_cmd("push", cwd=a)
    out = tmt_cmd("clone", "--lazy", s3_url, str(tmp_path / "lazy"), "--endpoint-url", seaweed.endpoint, cwd=tmp_path)
    assert "lazy: code and artifacts are fetched from origin" in out.stdout
    lazy = tmp_path / "lazy"
    assert [p for p in (lazy / ".tmt" / "objects").rglob("*") if p.is_file()] == []
    assert "train" in tmt_cmd("ls", cwd=lazy).stdout
    # Objects not fetched yet are expected: fsck says so without failing, gc keeps going.
    fsck = tmt_cmd("fsck", cwd=lazy)
    assert "not_fetched: tree " in fsck.stdout and "no problems found" in fsck.stdout
    assert tmt_cmd("gc", "--grace", "0", cwd=lazy).returncode == 0
    show = tmt_cmd("show", rid, cwd=lazy)  # the series summary reads the series blob: fetched
    assert "loss" in show.stdout
    tmt_cmd("checkout", rid, "-o", str(tmp_path / "code"), cwd=lazy)
    assert (tmp_path / "code" / "train.py").read_bytes() == (a / "train.py").read_bytes()
    assert tmt.get(rid, repo=lazy).artifacts["weights"].load() == {"weights": [0, 1, 2, 3, 4, 5, 6]}
    assert "lazy" in tmt_cmd("remote", "show", cwd=lazy).stdout
    # Pulls into a lazy clone stay lazy: records only.
    record(a, "train", 5)
    tmt_cmd("push", cwd=a)
    assert "records only" in tmt_cmd("pull", cwd=lazy).stdout


@pytest.mark.slow
def test_plain_folder_remote(tmp_path):
    a = make_project(tmp_path / "a")
    rid = record(a)
    tmt_cmd("remote", "add", "disk", str(tmp_path / "share"), cwd=a)
    tmt_cmd("push", cwd=a)
    assert (tmp_path / "share" / "tmt-remote.json").exists()
    tmt_cmd("clone", str(tmp_path / "share"), str(tmp_path / "b"), cwd=tmp_path)
    assert store_files(tmp_path / "b" / ".tmt")[f"experiments/{rid}.json"] == (a / ".tmt" / "experiments" / f"{rid}.json").read_bytes()
    # Nothing of the remote's own bookkeeping is left in a temp folder there.
    assert not any((tmp_path / "share" / "tmp").iterdir())
    # The working tree a checkout saves (a checkout-backup run) stays local unless named.
    b = tmp_path / "b"
    (b / "notes.txt").write_text("mine\n")
    out = tmt_cmd("checkout", rid, cwd=b)
    backup = out.stderr.split("return with: tmt checkout ")[1].split()[0]
    assert "Everything up to date" in tmt_cmd("push", cwd=b).stdout
    pushed = json.loads(tmt_cmd("push", "origin", backup, "--json", cwd=b).stdout)["runs_pushed"]
    assert len(pushed) == 1 and pushed[0].startswith(backup)


@pytest.mark.slow
def test_default_clone_folder_and_failed_clone_leaves_nothing(tmp_path, seaweed, s3_url):
    out = tmt_cmd("clone", s3_url, "--endpoint-url", seaweed.endpoint, cwd=tmp_path, check=False)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"Error: {s3_url} holds no tmt remote (nothing was pushed there yet)",
        "hint: check the URL (and --endpoint-url), or push to it first: tmt remote add origin URL && tmt push",
    ]
    assert not (tmp_path / s3_url.rsplit("/", 1)[-1]).exists()
    a = make_project(tmp_path / "a")
    record(a)
    _add(a, s3_url, seaweed.endpoint)
    tmt_cmd("push", cwd=a)
    tmt_cmd("clone", s3_url, "--endpoint-url", seaweed.endpoint, cwd=tmp_path)
    assert (tmp_path / s3_url.rsplit("/", 1)[-1] / ".tmt").is_dir()


@pytest.mark.slow
def test_api_twins(tmp_path, seaweed, s3_url, monkeypatch):
    import tmt

    a = make_project(tmp_path / "a")
    rid = record(a)
    spec = tmt.remote.add("origin", s3_url, endpoint_url=seaweed.endpoint, repo=a)
    assert spec.url == s3_url and [s.name for s in tmt.remote.ls(repo=a)] == ["origin"]
    pushed = tmt.push(repo=a)
    assert pushed.runs_pushed == [rid] and pushed.objects_uploaded > 0
    cloned = tmt.clone(s3_url, tmp_path / "b", endpoint_url=seaweed.endpoint)
    assert cloned.pull.runs_pulled == [rid]
    assert tmt.pull(repo=tmp_path / "b").runs_up_to_date == 1
    info = tmt.remote.show("origin", repo=a)
    assert info["runs"] == 1 and info["endpoint"] == seaweed.endpoint and info["credentials"] == "AWS_ACCESS_KEY_ID"
    assert tmt.remote.fsck("origin", repo=a).exit_code == 0
    assert tmt.remote.gc("origin", repo=a, grace=0).objects_deleted == 0
    tmt.remote.rm("origin", repo=a)
    assert tmt.remote.ls(repo=a) == []
    assert "AWS_SECRET" not in (a / ".tmt" / "remotes.toml").read_text()
    assert servers_secret_nowhere(a / ".tmt")


def servers_secret_nowhere(tmt_dir: Path) -> bool:
    import s3servers

    for p in tmt_dir.rglob("*"):
        if p.is_file() and s3servers.SECRET_KEY.encode() in p.read_bytes():
            return False
    return True
