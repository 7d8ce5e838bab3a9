"""The behaviour every framework adapter shares (tmt/integrations/core.py): which run it
writes to, which rank writes, params as dotted keys, numbers only, checkpoints as artifacts."""
from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest

import tmt
from tmt.integrations.core import RANK_VARS, AdapterRun, flatten, numbers
from tmt.records.io import read_record, record_files

TMT = [sys.executable, "-c", "import sys; from tmt.cli import main; sys.argv[0] = 'tmt'; main()"]


@pytest.fixture(autouse=True)
def rank_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in RANK_VARS:
        monkeypatch.delenv(var, raising=False)


def records(project: Path) -> list:
    folder = project / ".tmt" / "experiments"
    return sorted((read_record(p) for p in record_files(folder)), key=lambda r: r.created_at)


def test_nested_params_become_dotted_keys() -> None:
    import argparse

    params = {"optim": {"lr": 0.1, "betas": [0.9, 0.99]}, "args": argparse.Namespace(seed=3), "empty": {}}
    assert flatten(params) == {"optim.lr": 0.1, "optim.betas": [0.9, 0.99], "args.seed": 3, "empty": {}}


def test_only_numbers_are_logged() -> None:
    import numpy as np

    got = numbers({"loss": np.float32(0.5), "epoch": 2, "lr": "0.1", "none": None,
                   "vec": np.array([1.0, 2.0]), "ok": True})
    assert got == {"loss": 0.5, "epoch": 2, "ok": True}
    assert type(got["loss"]) is float


def test_attaches_to_the_active_run_and_never_ends_it(project: Path) -> None:
    with tmt.start_run(name="outer", params={"seed": 1}) as run:
        adapter = AdapterRun(params={"model": {"depth": 3}})
        adapter.log({"loss": 0.5, "note": "text"}, step=0)
        adapter.log({"loss": 0.25}, step=1)
        adapter.end()
        assert run.status == "running"
        run.log({"after": 1.0})
    (rec,) = records(project)
    assert rec.name == "outer" and rec.status == "completed"
    assert rec.params == {"seed": 1, "model.depth": 3}
    assert tmt.get("last").series("loss").values == [0.5, 0.25]


def test_starts_a_run_named_after_the_script_and_ends_it(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(project / "train.py")])
    adapter = AdapterRun(tags=["fw"])
    adapter.log_params({"lr": 0.1, "opt": {"name": "adam"}})
    adapter.log({"loss": 1.0}, step=0)
    (running,) = records(project)
    assert running.status == "running"
    assert running.params == {"lr": 0.1, "opt.name": "adam"}  # on disk before the end: a crash keeps them
    adapter.end()
    (rec,) = records(project)
    assert (rec.name, rec.status, rec.tags) == ("train", "completed", ["fw"])
    assert tmt.get("last").series("loss").values == [1.0]


def test_a_run_after_the_end_is_a_new_run_whose_parent_is_the_first(project: Path) -> None:
    adapter = AdapterRun(name="fit")
    adapter.log({"loss": 1.0})
    adapter.end()
    adapter.log({"test_acc": 0.9})  # `trainer.test()` after `trainer.fit()` with the same logger
    adapter.end()
    first, second = records(project)
    assert second.parent == first.id
    assert (first.status, second.status) == ("completed", "completed")
    assert list(second.series) == ["test_acc"]


def test_no_rank_but_zero_writes_anything(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    adapter = AdapterRun(name="ddp", checkpoints=True)
    adapter.log_params({"lr": 0.1})
    adapter.log({"loss": 1.0})
    adapter.save_file(__file__, "checkpoint")
    adapter.end()
    assert not (project / ".tmt").exists()


def test_checkpoint_files_and_folders_are_artifacts(project: Path) -> None:
    (project / "epoch=1.ckpt").write_bytes(b"weights" * 100)
    folder = project / "checkpoint-10"
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"\x00\x01")
    with tmt.start_run(name="ck"):
        adapter = AdapterRun(checkpoints=True)
        adapter.save_file(project / "epoch=1.ckpt", "checkpoint-epoch=1")
        adapter.save_folder(folder, "checkpoint-10")
        adapter.save_with(lambda path: Path(path).write_text("m"), "model", ".txt")
    run = tmt.get("last")
    assert run.artifacts["checkpoint-epoch=1"].path.read_bytes() == b"weights" * 100
    assert run.artifacts["checkpoint-epoch=1"].filename == "checkpoint-epoch=1.ckpt"
    with tarfile.open(fileobj=io.BytesIO(run.artifacts["checkpoint-10"].path.read_bytes())) as tar:
        assert tar.extractfile("checkpoint-10/model.bin").read() == b"\x00\x01"
    assert run.artifacts["model"].load() == "m"


def _script(project: Path, body: str) -> None:
    (project / "train.py").write_text(textwrap.dedent("""
        import sys
        from tmt.integrations.core import AdapterRun
        adapter = AdapterRun(params={"lr": 0.5})
    """) + textwrap.dedent(body))


def test_a_training_that_raises_ends_the_run_as_failed(project: Path) -> None:
    _script(project, """
        adapter.log({"loss": 1.0}, step=0)
        raise ValueError("diverged")  # the framework never calls its end hook
    """)
    proc = subprocess.run([sys.executable, "train.py"], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "ValueError: diverged" in proc.stderr
    (rec,) = records(project)
    assert (rec.name, rec.status) == ("train", "failed")
    assert rec.error["type"] == "ValueError" and rec.error["message"] == "diverged"
    assert rec.params == {"lr": 0.5}
    assert tmt.get("last").series("loss").values == [1.0]


def test_under_tmt_run_the_adapter_writes_to_that_run(project: Path) -> None:
    _script(project, """
        adapter.log({"loss": 1.0}, step=0)
        adapter.log({"loss": 0.5}, step=1)
        adapter.end()
    """)
    proc = subprocess.run([*TMT, "run", "-n", "cmd", "--", sys.executable, "train.py"], cwd=project,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (rec,) = records(project)
    assert (rec.name, rec.status, rec.params["lr"]) == ("cmd", "completed", 0.5)
    assert tmt.get("last").series("loss").values == [1.0, 0.5]


def test_sigterm_during_the_training_ends_the_run_as_interrupted(project: Path) -> None:
    import signal

    _script(project, """
        import time
        adapter.log({"loss": 1.0}, step=0)
        print("training", flush=True)
        time.sleep(120)  # a training the cluster's time limit stops
    """)
    proc = subprocess.Popen([sys.executable, "train.py"], cwd=project, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "training\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    (rec,) = records(project)
    assert rec.status == "interrupted" and rec.error["message"] == "terminated by SIGTERM"
    assert tmt.get("last").series("loss").values == [1.0]


def test_scripts_import_no_integration_nor_notebook_code(project: Path) -> None:
    """`import tmt` and a script's run load neither the adapters nor the notebook support."""
    code = textwrap.dedent("""
        import sys, tmt
        with tmt.start_run(name="plain") as run:
            run.log({"loss": 1.0})
        print(sorted(m for m in sys.modules if m.startswith(("tmt.integrations", "tmt.recorder.notebook", "IPython"))))
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "[]\n"
