"""The tmt command through click's CliRunner: fixed width (COLUMNS=100), no colour, not a terminal."""
from __future__ import annotations

import json
import os

import pytest

from cli_helpers import invoke, make_run
from tmt.cli import COMMANDS
from tmt.records.io import record_files


@pytest.fixture
def three(repo, dead_pid: int):
    """Two completed runs (different code, params, metrics) and a crashed one."""
    a = make_run(repo, 1, "base", params={"lr": 0.1, "opt": {"name": "sgd"}}, metrics={"f1": 0.61234, "loss": 0.5},
                 files={"train.py": b"lr = 0.1\n"})
    b = make_run(repo, 2, "lr_high", params={"lr": 0.5, "opt": {"name": "sgd"}}, metrics={"f1": 0.7, "acc": 0.9},
                 tags=["paper"], files={"train.py": b"lr = 0.5\n"})
    c = make_run(repo, 3, "lr_high", status="running", pid=dead_pid, params={"lr": 0.9})
    return a, b, c


# -- the group ------------------------------------------------------------------------------


def test_help_lists_every_command():
    r = invoke("--help")
    assert r.exit_code == 0
    for name, summary in COMMANDS.items():
        assert f"  {name}" in r.stdout and summary in r.stdout
    assert invoke("-h").stdout == r.stdout


def test_unknown_command_is_a_usage_error():
    r = invoke("nope")
    assert r.exit_code == 2
    assert "Error: No such command 'nope'." in r.stderr


def test_no_repository(project):
    r = invoke("ls")
    assert r.exit_code == 1
    assert r.stdout == ""
    assert r.stderr == (f"Error: no .tmt repository in {project} or any parent folder\n"
                        "hint: run `tmt init` in your project folder, or record a run first\n")


def test_traceback_on_request(project):
    from tmt.errors import RepositoryNotFound

    with pytest.raises(RepositoryNotFound):
        invoke("ls", env={"TMT_TRACEBACK": "1"})


# -- ls -------------------------------------------------------------------------------------


def test_ls_table(three):
    r = invoke("ls")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "id        name     status            age  duration       f1  acc  loss  params.lr  params.opt.name\n"
        "33333333  lr_high  crashed    2024-01-03         -                            0.9\n"
        "22222222  lr_high  completed  2024-01-02       12s      0.7  0.9              0.5  sgd\n"
        "11111111  base     completed  2024-01-01       12s  0.61234        0.5        0.1  sgd\n"
    )
    assert r.stderr == ""


def test_ls_metric_columns_fit_the_width(three):
    r = invoke("ls", env={"COLUMNS": "62"})
    assert r.stdout.splitlines()[0] == "id        name     status            age  duration       f1"
    assert r.stderr == ("(4 more columns did not fit: acc, loss, params.lr, params.opt.name; choose with --columns, "
                        "or widen the terminal)\n")
    r = invoke("ls", "--metrics", "loss,acc", "--params", "")
    assert r.stdout.splitlines()[0] == "id        name     status            age  duration  loss  acc"
    assert r.stdout.splitlines()[3] == "11111111  base     completed  2024-01-01       12s   0.5"


def test_ls_filters(three):
    def ids(*args):
        r = invoke("ls", *args)
        assert r.exit_code == 0, r.stderr
        return [line.split()[0] for line in r.stdout.splitlines()[1:]]

    assert ids("--name", "^lr") == ["33333333", "22222222"]
    assert ids("--status", "crashed") == ["33333333"]
    assert ids("--status", "completed", "--status", "crashed") == ["33333333", "22222222", "11111111"]
    assert ids("--where", "f1 > 0.65") == ["22222222"]
    assert ids("--where", "params.lr >= 0.5", "--where", "params.lr < 0.6") == ["22222222"]
    assert ids("--tag", "paper") == ["22222222"]
    assert ids("--since", "2024-01-02") == ["33333333", "22222222"]
    assert ids("--until", "2024-01-02T13:00") == ["22222222", "11111111"]
    assert ids("--sort", "f1") == ["22222222", "11111111", "33333333"]
    assert ids("--sort", "f1", "--asc") == ["11111111", "22222222", "33333333"]
    assert ids("-n", "1") == ["33333333"]
    assert ids("--sort", "f1", "-n", "1") == ["22222222"]


def test_ls_json(three):
    r = invoke("ls", "--json", "-n", "2")
    data = json.loads(r.stdout)
    assert [d["id"][:8] for d in data] == ["33333333", "22222222"]
    assert list(data[1]) == ["created_at", "duration_s", "finished_at", "id", "metrics", "name", "params", "parent",
                             "status", "tags"]
    assert data[0]["status"] == "crashed" and data[1]["metrics"] == {"acc": 0.9, "f1": 0.7}


def test_ls_empty_and_no_match(repo):
    r = invoke("ls")
    assert (r.exit_code, r.stdout) == (0, "")
    assert r.stderr == "No runs yet: record one with @tmt.recorder(...) or `with tmt.start_run(...)`.\n"
    make_run(repo, 1, "a")
    r = invoke("ls", "--name", "zzz")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "No runs match these filters.\n")
    assert invoke("ls", "--json", "--name", "zzz").stdout == "[]\n"


def test_ls_bad_filters_are_usage_errors(three):
    r = invoke("ls", "--where", "f1 >")
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: cannot parse where expression 'f1 >'\nhint: examples:")
    r = invoke("ls", "--status", "done")
    assert r.exit_code == 2
    assert r.stderr == ("Error: unknown status 'done'\n"
                        "hint: choose from running, completed, failed, interrupted, crashed\n")
    r = invoke("ls", "--sort", "nope")
    assert r.exit_code == 2
    assert r.stderr == "Error: no run has a metric 'nope' to sort by\nhint: metrics they have: acc, f1, loss\n"
    r = invoke("ls", "--sort", "lr")
    assert r.stderr == ("Error: no run has a metric 'lr' to sort by\n"
                        "hint: did you mean 'params.lr'? metrics they have: acc, f1, loss\n")
    r = invoke("ls", "-n", "-1")
    assert r.exit_code == 2 and "Invalid value for '-n' / '--limit'" in r.stderr


def test_ls_nan_metrics(repo):
    make_run(repo, 1, "a", metrics={"f1": float("nan"), "loss": float("inf")})
    r = invoke("ls")
    assert r.stdout.splitlines()[1].endswith("NaN   inf")
    assert json.loads(invoke("ls", "--json").stdout)[0]["metrics"] == {"f1": "NaN", "loss": "Infinity"}


# -- show -----------------------------------------------------------------------------------


def test_show_text(three):
    r = invoke("show", "lr_high~1")
    assert r.exit_code == 0, r.stderr
    tree = three[1].code["tree"]
    assert r.stdout == (
        "run 22222222222222222222222222222222:\n"
        "  name      lr_high\n"
        "  status    completed\n"
        "  created   2024-01-02T12:00:00+00:00 (2024-01-02)\n"
        "  finished  2024-01-02T12:00:12.500000+00:00\n"
        "  duration  12s\n"
        "  tags      paper\n"
        "\n"
        "params:\n"
        "  lr        0.5\n"
        "  opt.name  sgd\n"
        "\n"
        "metrics:\n"
        "  acc  0.9\n"
        "  f1   0.7\n"
        "\n"
        "code:\n"
        "  root   .\n"
        "  files  1 (9 B)\n"
        f"  tree   {tree}\n"
        "  git    c0ffeec0ffeec0ffeec0ffeec0ffeec0ffeeabcd (main, dirty)\n"
        "\n"
        "env:\n"
        "  argv    train.py --lr 0.1\n"
        "  cwd     .\n"
        f"  host    {three[1].env['host']}\n"
        "  pid     4242\n"
        "  python  3.11.7\n"
        "  user    me\n"
    )


def test_show_crashed_error_series_artifacts(repo):
    from tmt.records.series import Series, encode_series

    blob = repo.store.put(encode_series(Series("loss", [0, 1, 2, 3], [4.0, 3.0, 1.0, 2.0], [0.0, 1.0, 2.0, 3.0])))
    art = repo.store.put(b"x" * 2048)
    make_run(repo, 1, "boom", status="failed", series={"loss": blob},
             artifacts=[{"name": "preds", "object": art, "size": 2048, "format": "pickle", "filename": "preds.pkl"}],
             error={"type": "ValueError", "message": "bad lr",
                    "traceback": "Traceback (most recent call last):\n  File \"train.py\", line 3\nValueError: bad lr\n"})
    r = invoke("show", "boom")
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert ("series:\n"
            "  name  points  last  min  max\n"
            "  loss       4     2    1    4  █▆▁▃\n") in text
    assert ("artifacts:\n"
            "  name   format     size  file       object\n"
            f"  preds  pickle  2.0 KiB  preds.pkl  {art[:12]}\n") in text
    assert text.endswith("error:\n"
                         "  ValueError: bad lr\n"
                         "  Traceback (most recent call last):\n"
                         "    File \"train.py\", line 3\n"
                         "  ValueError: bad lr\n")
    data = json.loads(invoke("show", "boom", "--json").stdout)
    assert data["series_summary"] == {"loss": {"points": 4, "last": 2.0, "min": 1.0, "max": 4.0, "first_step": 0,
                                               "last_step": 3}}
    assert data["status"] == data["recorded_status"] == "failed"
    assert data["error"]["type"] == "ValueError"


def test_show_crashed_status(three):
    r = invoke("show", "3333")
    assert "  status    crashed (recorded as running; its process is gone)\n" in r.stdout
    data = json.loads(invoke("show", "3333", "--json").stdout)
    assert (data["status"], data["recorded_status"]) == ("crashed", "running")


def test_show_unknown_and_ambiguous_refs(three):
    r = invoke("show", "nope")
    assert r.exit_code == 2
    assert r.stderr.startswith("Error: no run matches 'nope'")
    r = invoke("show", "last~7")
    assert r.exit_code == 2 and r.stderr.startswith("Error: ")
    r = invoke("show")
    assert r.exit_code == 2 and "Missing argument 'REF'" in r.stderr


# -- diff -----------------------------------------------------------------------------------


def test_diff_two_runs(three):
    r = invoke("diff", "base", "lr_high~1")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "diff --git a/train.py b/train.py\n"
        "index 44c7745..1ba9999 100644\n"
        "--- a/train.py\n"
        "+++ b/train.py\n"
        "@@ -1 +1 @@\n"
        "-lr = 0.1\n"
        "+lr = 0.5\n"
        "\n"
        "params:\n"
        "param     a: 11111111  b: 22222222\n"
        "lr                0.1          0.5  changed\n"
        "opt.name          sgd          sgd\n"
        "\n"
        "metrics:\n"
        "metric  a: 11111111  b: 22222222              delta\n"
        "acc               -          0.9\n"
        "f1          0.61234          0.7  +0.08766 (+14.3%)\n"
        "loss            0.5            -\n"
    )


def test_diff_stat_and_json(three):
    r = invoke("diff", "1111", "2222", "--stat", "--no-code")
    assert r.stdout.startswith("\nparams:\n")
    r = invoke("diff", "1111", "2222", "--stat")
    assert r.stdout.startswith(
        "path      status    lines\n"
        "train.py  modified  +1 -1\n"
        "1 file changed, 1 insertion(+), 1 deletion(-)\n"
    )
    data = json.loads(invoke("diff", "1111", "2222", "--json").stdout)
    assert data["a"]["id"].startswith("1111") and data["b"]["name"] == "lr_high"
    assert data["files"] == [{"path": "train.py", "status": "modified", "added": 1, "removed": 1, "binary": False,
                              "old_kind": "f", "new_kind": "f", "note": None, "old_path": None, "similarity": None,
                              "header": ["diff --git a/train.py b/train.py", "index 44c7745..1ba9999 100644"],
                              "lines": ["--- a/train.py", "+++ b/train.py", "@@ -1 +1 @@", "-lr = 0.1", "+lr = 0.5"]}]
    assert {"key": "f1", "a": 0.61234, "b": 0.7, "delta": pytest.approx(0.08766)} in data["metrics"]
    assert {"key": "lr", "a": 0.1, "b": 0.5} in data["params"]


def test_diff_same_run_and_working_tree(three, project):
    r = invoke("diff", "2222", "2222")
    assert r.stdout.startswith("No code changes between run 22222222 (lr_high) and run 22222222 (lr_high).\n")
    (project / "train.py").write_text("lr = 0.5\nepochs = 3\n")
    r = invoke("diff", "2222")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "diff --git a/train.py b/train.py\n"
        "index 1ba9999..59070a5 100644\n"
        "--- a/train.py\n"
        "+++ b/train.py\n"
        "@@ -1 +1,2 @@\n"
        " lr = 0.5\n"
        "+epochs = 3\n"
    )
    data = json.loads(invoke("diff", "2222", "--json").stdout)
    assert data["b"] is None and data["params"] == [] and [f["path"] for f in data["files"]] == ["train.py"]


# -- checkout -------------------------------------------------------------------------------


def test_checkout_in_place_messages(three, project):
    (project / "train.py").write_text("edited\n")
    r = invoke("checkout", "base")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    backup = lines[0].split()[6].rstrip(";")
    assert lines == [
        f"Saved your working tree as run {backup}; return with: tmt checkout {backup}",
        "Checked out run 11111111 (base): 1 file(s) written, 0 removed.",
    ]
    assert (project / "train.py").read_text() == "lr = 0.1\n"
    listed = json.loads(invoke("ls", "--all", "--json").stdout)
    assert listed[0]["id"].startswith(backup) and listed[0]["name"] == "checkout-backup"
    assert backup not in invoke("ls").stdout  # backups are listed only when asked for
    r = invoke("checkout", "base")
    assert r.stderr == "The working tree already holds the code of run 11111111 (base); nothing to do.\n"
    invoke("checkout", backup)
    assert (project / "train.py").read_text() == "edited\n"


def test_checkout_refusals(three, project, tmp_path):
    (project / ".tmt" / "config.toml").write_text("max_file_size = 10\n")
    (project / "train.py").write_text("precious, too large\n")
    r = invoke("checkout", "base")
    assert r.exit_code == 1
    assert r.stderr.endswith(
        "Error: checking out run 11111111 (base) would overwrite files that are not part of the working-tree "
        "snapshot (too large, unreadable or new), so no backup could keep them:\n"
        "  train.py\n"
        "hint: move them away, or pass --force to overwrite them\n"
    )
    r = invoke("checkout", "base", "-o", str(tmp_path / "x"), "--force")
    assert r.exit_code == 2 and "--force applies to an in-place checkout, not to -o DIR" in r.stderr
    r = invoke("checkout", "base", "--force")
    assert r.exit_code == 0 and "Overwrote 1 file(s) outside the backup (--force): train.py" in r.stderr


def test_checkout_refuses_while_a_run_records_here(repo, project):
    make_run(repo, 1, "a", files={"a.py": b"1\n"})
    make_run(repo, 2, "live", status="running", pid=os.getpid())
    (project / "a.py").write_text("2\n")
    r = invoke("checkout", "a")
    assert r.exit_code == 1
    assert r.stderr == (f"Error: run 22222222 (live) is recording from {project}; changing its code now could "
                        "change what it imports\nhint: wait for it to finish, or pass --force\n")
    assert invoke("checkout", "a", "--force").exit_code == 0
    assert (project / "a.py").read_text() == "1\n"


def test_checkout_to_folder(three, tmp_path):
    out = tmp_path / "out"
    r = invoke("checkout", "2222", "-o", str(out))
    assert r.exit_code == 0
    assert r.stderr == f"Checked out run 22222222 (lr_high) into {out} ({1} files, read-only).\n"
    assert (out / "train.py").read_bytes() == b"lr = 0.5\n"
    r = invoke("checkout", "2222", "-o", str(out))
    assert r.exit_code == 1
    assert r.stderr == (f"Error: {out} already exists and is not an empty directory\n"
                        "hint: choose a new folder for -o, or remove this one\n")


def test_checkout_run_without_code(repo):
    from tmt.records.io import write_record
    from tmt.records.model import Record

    write_record(repo.experiments_dir, repo.tmp_dir,
                 Record(id="a" * 32, name="nocode", status="completed", created_at="2024-01-01T00:00:00+00:00"))
    r = invoke("checkout", "nocode")
    assert r.exit_code == 1 and r.stderr == "Error: run aaaaaaaa (nocode) has no code snapshot\n"


# -- rm -------------------------------------------------------------------------------------


def test_rm_needs_confirmation_when_not_a_terminal(three, repo):
    r = invoke("rm", "base")
    assert r.exit_code == 2
    assert r.stderr == ("Error: refusing to delete 1 run without confirmation: stdin is not a terminal\n"
                        "hint: pass --yes to delete without asking\n")
    assert len(list(record_files(repo.experiments_dir))) == 3


def test_rm_yes(three, repo):
    r = invoke("rm", "base", "2222", "--yes")
    assert r.exit_code == 0, r.stderr
    assert r.stderr == ("Deleted run 22222222 (lr_high)\nDeleted run 11111111 (base)\n"
                        "Their objects stay in the store until `tmt gc`.\n")
    assert [p.name[:8] for p in record_files(repo.experiments_dir)] == ["33333333"]
    assert invoke("rm", "base", "--yes").exit_code == 2


def test_rm_confirmation_prompt(three, repo, monkeypatch):
    import tmt.cli.common as common

    monkeypatch.setattr(common, "stdin_is_terminal", lambda: True)
    r = invoke("rm", "base", input="n\n")
    assert r.exit_code == 1
    assert "  11111111  base  completed  2024-01-01\nDelete 1 run? [y/N]: n\nNothing deleted.\n" in r.stderr
    assert len(list(record_files(repo.experiments_dir))) == 3
    r = invoke("rm", "base", input="y\n")
    assert r.exit_code == 0 and "Deleted run 11111111 (base)" in r.stderr


def test_rm_filters(three, repo):
    r = invoke("rm", "--status", "crashed", "--older-than", "1d", "--yes", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) == [{"id": "3" * 32, "name": "lr_high"}]
    r = invoke("rm", "--name", "^lr_", "base", "--yes")  # base is not ^lr_: nothing
    assert r.stderr == "No runs match; nothing deleted.\n"
    r = invoke("rm", "--name", "^lr_", "--yes")
    assert r.stderr.startswith("Deleted run 22222222 (lr_high)\n")
    assert [p.name[:8] for p in record_files(repo.experiments_dir)] == ["11111111"]


def test_rm_usage_errors(three):
    r = invoke("rm")
    assert r.exit_code == 2
    assert "Error: give the runs to delete (REF...) or filters (--name, --older-than, --status)" in r.stderr
    r = invoke("rm", "nope", "--yes")
    assert r.exit_code == 2 and r.stderr.startswith("Error: no run matches 'nope'")


def test_rm_refuses_live_runs(repo):
    make_run(repo, 1, "live", status="running", pid=os.getpid())
    r = invoke("rm", "live", "--yes")
    assert r.exit_code == 1
    assert r.stderr == ("Error: run 11111111 (live) is still recording\n"
                        "hint: wait for it to finish, or pass --force (it would write its record again when it ends)\n")
    assert invoke("rm", "live", "--yes", "--force").exit_code == 0


# -- export ---------------------------------------------------------------------------------


def test_export_csv(three):
    r = invoke("export")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "id,name,status,created_at,finished_at,duration_s,tags,parent,params.lr,params.opt.name,metrics.acc,"
        "metrics.f1,metrics.loss\n"
        f"{'3' * 32},lr_high,crashed,2024-01-03T12:00:00+00:00,,,[],,0.9,,,,\n"
        f"{'2' * 32},lr_high,completed,2024-01-02T12:00:00+00:00,2024-01-02T12:00:12.500000+00:00,12.5,"
        '"[""paper""]",,0.5,sgd,0.9,0.7,\n'
        f"{'1' * 32},base,completed,2024-01-01T12:00:00+00:00,2024-01-01T12:00:12.500000+00:00,12.5,[],,0.1,sgd,,"
        "0.61234,0.5\n"
    )


def test_export_json_filters_and_file(three, tmp_path):
    data = json.loads(invoke("export", "--format", "json", "--sort", "f1", "-n", "1").stdout)
    assert data == [{
        "created_at": "2024-01-02T12:00:00+00:00", "duration_s": 12.5, "finished_at": "2024-01-02T12:00:12.500000+00:00",
        "id": "2" * 32, "metrics.f1": 0.7, "metrics.acc": 0.9, "name": "lr_high", "params.lr": 0.5,
        "params.opt.name": "sgd", "parent": None, "status": "completed", "tags": ["paper"],
    }]
    out = tmp_path / "runs.csv"
    r = invoke("export", "-o", str(out), "--where", "f1 > 0")
    assert r.exit_code == 0 and r.stdout == ""
    assert r.stderr == f"Exported 2 runs to {out}\n"
    assert out.read_text().count("\n") == 3
    r = invoke("export", "--format", "xml")
    assert r.exit_code == 2 and "Invalid value for '-f' / '--format'" in r.stderr


def test_export_empty(repo):
    assert invoke("export").stdout == "id,name,status,created_at,finished_at,duration_s,tags,parent\n"
    assert invoke("export", "-f", "json").stdout == "[]\n"


# -- init and completion --------------------------------------------------------------------


def test_init(project):
    r = invoke("init")
    assert r.exit_code == 0 and r.stderr == f"Initialized empty tmt repository in {project / '.tmt'}\n"
    assert (project / ".tmt" / "objects").is_dir()
    r = invoke("init")
    assert r.stderr == f"Reinitialized existing tmt repository in {project / '.tmt'}\n"


def test_ref_completion(three):
    import click

    from tmt.cli.common import complete_ref

    items = complete_ref(click.Context(click.Command("x")), None, "")
    values = [i.value for i in items]
    assert values == ["last", "lr_high", "base", "33333333", "22222222", "11111111"]
    assert [i.value for i in complete_ref(None, None, "lr")] == ["lr_high"]


def test_ref_completion_through_the_shell_protocol(three):
    from click.testing import CliRunner

    from tmt.cli import cli

    env = {"_TMT_COMPLETE": "bash_complete", "COMP_WORDS": "tmt show ba", "COMP_CWORD": "2"}
    r = CliRunner().invoke(cli, [], env=env, prog_name="tmt")
    assert r.stdout == "plain,base\n"
    r = CliRunner().invoke(cli, [], env={**env, "COMP_WORDS": "tmt sh", "COMP_CWORD": "1"}, prog_name="tmt")
    assert r.stdout == "plain,show\n"


def test_ref_completion_without_a_repository(project):
    from tmt.cli.common import complete_ref

    assert complete_ref(None, None, "") == []


def test_every_data_command_has_json():
    from click import Context

    from tmt.cli import cli

    for name in ("ls", "show", "diff", "rm"):
        cmd = cli.get_command(Context(cli), name)
        assert "--json" in {o for p in cmd.params for o in getattr(p, "opts", [])}, name
