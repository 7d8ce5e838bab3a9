"""Recording runs in-process: records, params, metrics, series, saved objects, errors."""
from __future__ import annotations

import inspect
import io
import json
import math
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import tmt
from tmt.errors import DuplicatedNameError, MetricTypeError, NoActiveRun, RecordingError
from tmt.recorder import flush
from tmt.records.io import read_record, record_files
from tmt.records.model import Record
from tmt.records.series import (
    Series, decode_series, encode_frame, encode_series, iter_frames, journal_path, load_series, read_journal,
)
from tmt.repo import Repo


def records(project: Path) -> list[Record]:
    recs = [read_record(p) for p in record_files(project / ".tmt" / "experiments")]
    return sorted(recs, key=lambda r: r.created_at)


def only(project: Path) -> Record:
    recs = records(project)
    assert len(recs) == 1
    return recs[0]


def series_of(project: Path, rec: Record, name: str) -> Series:
    return load_series(Repo(project / ".tmt"), rec, name)


# -- the decorator ------------------------------------------------------------------------------


def test_decorator_records_a_completed_run(project: Path) -> None:
    (project / "train.py").write_text("print('hi')\n")

    @tmt.recorder(name="lr", description="baseline", tags=("paper",), params={"seed": 1})
    def train(x, C=1.0, *, solver="lbfgs"):
        """Train it."""
        return {"f1": np.float64(0.5), "acc": np.float32(0.25), "n": np.int64(3), "ok": True}

    out = train([1, 2], solver="sag")
    assert out["f1"] == 0.5
    rec = only(project)
    assert rec.name == "lr" and rec.status == "completed" and rec.error is None
    assert rec.description == "baseline" and rec.tags == ["paper"]
    assert rec.params == {"x": [1, 2], "C": 1.0, "solver": "sag", "seed": 1}
    assert rec.metrics == {"f1": 0.5, "acc": 0.25, "n": 3, "ok": True}
    assert type(rec.metrics["n"]) is int
    assert rec.parent is None
    assert rec.code["root"] == "." and rec.code["files"] == 1 and rec.code["git"] is None
    assert len(rec.code["tree"]) == 64
    assert rec.env["pid"] == os.getpid() and rec.env["cwd"] == "."
    assert rec.duration_s >= 0 and rec.finished_at >= rec.created_at
    # (.tmt created by the first run; nothing left behind)
    assert os.listdir(project / ".tmt" / "tmp") == []
    assert not any((project / ".tmt" / "pins").iterdir())


def test_decorator_keeps_name_docstring_and_signature(project: Path) -> None:
    def train(x, C=1.0):
        """Doc."""

    wrapped = tmt.tmt_recorder(name="t")(train)
    assert wrapped.__name__ == "train" and wrapped.__doc__ == "Doc."
    assert inspect.signature(wrapped) == inspect.signature(train)
    assert wrapped.__wrapped__ is train


def test_bare_decorator_names_the_run_after_the_function(project: Path) -> None:
    @tmt.recorder
    def my_experiment():
        return None

    assert my_experiment() is None
    assert only(project).name == "my_experiment"
    assert only(project).metrics == {}


def test_returning_empty_or_none_metrics(project: Path) -> None:
    tmt.recorder(name="a")(lambda: {})()
    tmt.recorder(name="b")(lambda: None)()
    assert [r.metrics for r in records(project)] == [{}, {}]
    assert [r.status for r in records(project)] == ["completed", "completed"]


def test_nan_and_inf_metrics_round_trip(project: Path) -> None:
    tmt.recorder(name="n")(lambda: {"a": math.nan, "b": np.inf, "c": -math.inf})()
    rec = only(project)
    assert math.isnan(rec.metrics["a"]) and rec.metrics["b"] == math.inf and rec.metrics["c"] == -math.inf
    raw = json.loads(next(record_files(project / ".tmt" / "experiments")).read_text())
    assert raw["metrics"] == {"a": "NaN", "b": "Infinity", "c": "-Infinity"}


def test_non_dict_return_is_not_an_error(project: Path, capsys: pytest.CaptureFixture) -> None:
    assert tmt.recorder(name="m")(lambda: [1, 2])() == [1, 2]
    assert only(project).status == "completed" and only(project).metrics == {}
    assert "returned a list, not a dict of metrics" in capsys.readouterr().err


def test_failure_is_recorded_and_reraised(project: Path) -> None:
    (project / "model.py").write_text("x = 1\n")

    @tmt.recorder(name="boom", save_on_exception=True)
    def boom(n):
        tmt.log({"loss": 1.0})
        raise ValueError(f"bad n={n}")

    with pytest.raises(ValueError, match="bad n=3"):
        boom(3)
    rec = only(project)
    assert rec.status == "failed"
    assert rec.error["type"] == "ValueError" and rec.error["message"] == "bad n=3"
    tb = rec.error["traceback"]
    assert tb.startswith("Traceback (most recent call last):") and "ValueError: bad n=3" in tb
    assert "decorator.py" not in tb  # the recorder's own frame is left out
    assert series_of(project, rec, "loss").values == [1.0]
    flush()
    assert not journal_path(project / ".tmt", rec.id).exists()


def test_keyboard_interrupt_is_recorded_as_interrupted(project: Path) -> None:
    @tmt.recorder(name="ctrl_c")
    def run():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run()
    rec = only(project)
    assert rec.status == "interrupted" and rec.error["type"] == "KeyboardInterrupt"


def test_sys_exit_zero_is_completed(project: Path) -> None:
    @tmt.recorder(name="exit")
    def run(code):
        raise SystemExit(code)

    with pytest.raises(SystemExit):
        run(0)
    with pytest.raises(SystemExit):
        run(2)
    assert [r.status for r in records(project)] == ["completed", "failed"]


async def _async_body(x):
    tmt.log({"x": x})
    return {"x": x}


def test_async_functions_are_recorded(project: Path) -> None:
    import asyncio

    wrapped = tmt.recorder(name="aio")(_async_body)
    assert asyncio.run(wrapped(2)) == {"x": 2}
    rec = only(project)
    assert rec.metrics == {"x": 2} and rec.params == {"x": 2}
    assert series_of(project, rec, "x").values == [2.0]


def test_method_params_leave_out_self(project: Path) -> None:
    class Trainer:
        @tmt.recorder(name="m")
        def fit(self, lr=0.1):
            return {"lr": lr}

    Trainer().fit()
    assert only(project).params == {"lr": 0.1}


# -- params -------------------------------------------------------------------------------------


def test_params_are_json_safe_never_an_error(project: Path) -> None:
    class Model:
        def __repr__(self) -> str:
            return "Model()"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no")

    @tmt.recorder(name="p")
    def run(model, broken, data, path, nan, nested, big, scalar, keys):
        return None

    run(
        Model(), Broken(), np.arange(1000), Path("data/x.csv"), math.nan,
        {"a": (1, [2.5, None]), "b": {"c": "d"}}, list(range(1000)), np.float32(0.5), {1: "one"},
    )
    p = only(project).params
    assert p["model"] == "Model()"
    assert p["broken"] == "<Broken (repr failed: RuntimeError)>"
    assert p["data"].startswith("array([  0,   1,") and p["data"].endswith("...") and len(p["data"]) == 200
    assert p["path"] == "data/x.csv"
    assert p["nan"] == "NaN"
    assert p["nested"] == {"a": [1, [2.5, None]], "b": {"c": "d"}}
    assert p["big"] == "[0, 1, 2, 3, 4, 5, 6, 7, ...] (1000 items)"
    assert p["scalar"] == 0.5
    assert p["keys"] == {"1": "one"}


def test_params_changed_during_the_run_are_kept(project: Path) -> None:
    with tmt.start_run(name="ctx", params={"lr": 0.1}) as run:
        run.params["epochs"] = 3
    assert only(project).params == {"lr": 0.1, "epochs": 3}


def only_params(project: Path) -> dict:
    (path,) = record_files(project / ".tmt" / "experiments")
    return read_record(path).params


def test_big_params_are_summarised_not_stored_whole(repo: Repo, project: Path) -> None:
    params = {
        "texts": ["a sentence of a dataset"] * 100_000,
        "vocab": set(range(100_000)),
        "lookup": {f"k{i}": i for i in range(100_000)},
        "raw": b"\0" * 1_000_000,
        "doc": "x" * 1_000_000,
        "nested": [list(range(1000))] * 300,
    }
    with tmt.start_run("big", params=params):
        pass
    p = only_params(project)
    assert p["texts"].startswith("['a sentence of a dataset', 'a sentence of a dataset', ")
    assert p["texts"].endswith("... (100000 items)") and len(p["texts"]) == 200 + len(" (100000 items)")
    assert p["vocab"] == "{0, 1, 2, 3, 4, 5, 6, 7, ...} (100000 items)"
    assert p["lookup"] == "{'k0': 0, 'k1': 1, 'k2': 2, 'k3': 3, 'k4': 4, 'k5': 5, 'k6': 6, 'k7': 7, ...} (100000 items)"
    assert p["raw"] == "b'" + "\\x00" * 40 + "'... (1000000 bytes)"
    assert p["doc"] == "x" * 4093 + "..."
    assert p["nested"].startswith("[<list of 1000 items>, <list of 1000 items>,") and p["nested"].endswith("(300 items)")
    size = sum(f.stat().st_size for f in (project / ".tmt" / "experiments").iterdir())
    assert size < 20_000


def test_small_params_are_kept_whole(repo: Repo, project: Path) -> None:
    params = {"layers": list(range(256)), "name": "n" * 4096, "tags": {"a", "b"}, "blob": b"abc"}
    with tmt.start_run("small", params=params):
        pass
    p = only_params(project)
    assert p["layers"] == list(range(256)) and p["name"] == "n" * 4096
    assert p["tags"] in ("{'a', 'b'}", "{'b', 'a'}") and p["blob"] == "b'abc'"


# -- the context form, series -----------------------------------------------------------------


def test_start_run_with_series_and_final_metrics(project: Path) -> None:
    with tmt.start_run(name="sweep", params={"lr": 0.1}, tags=["a", "b"]) as run:
        assert tmt.active_run() is run and run.status == "running"
        run.log({"loss": 0.3}, step=1)
        tmt.log({"loss": 0.2, "acc": np.float64(0.7)}, step=2)
        run.metrics["f1"] = 0.9
        rid = run.id
        # while running: the record exists with status running, the journal has the steps
        live = read_record(project / ".tmt" / "experiments" / f"{rid}.json")
        assert live.status == "running" and live.series == {}
        assert read_journal(project / ".tmt", rid)["loss"].values == [0.3, 0.2]
        assert series_of(project, live, "loss").steps == [1, 2]
    assert tmt.active_run() is None and run.status == "completed"
    rec = only(project)
    assert rec.id == rid and rec.metrics == {"f1": 0.9} and rec.tags == ["a", "b"]
    assert sorted(rec.series) == ["acc", "loss"]
    loss = series_of(project, rec, "loss")
    assert loss.steps == [1, 2] and loss.values == [0.3, 0.2] and loss.times[0] <= loss.times[1]
    assert series_of(project, rec, "acc").steps == [2]
    flush()
    assert not journal_path(project / ".tmt", rid).exists()
    store = Repo(project / ".tmt").store
    assert decode_series(store.get(rec.series["loss"], verify=True)) == loss


def test_log_without_step_counts_per_metric(project: Path) -> None:
    with tmt.start_run(name="auto") as run:
        for i in range(3):
            tmt.log({"loss": 1.0 / (i + 1)})
        tmt.log({"acc": 0.5})
        tmt.log({"loss": 0.1}, step=10)
        tmt.log({"loss": 0.05})
        tmt.log({"flag": True, "i": np.int64(4)}, step=np.int32(7))
    rec = only(project)
    assert series_of(project, rec, "loss").steps == [0, 1, 2, 10, 11]
    assert series_of(project, rec, "acc").steps == [0]
    assert series_of(project, rec, "flag").values == [1.0]
    assert series_of(project, rec, "i").steps == [7]
    assert run.status == "completed"


def test_log_rejects_non_numbers_before_writing_anything(project: Path) -> None:
    with pytest.raises(MetricTypeError) as info:
        with tmt.start_run(name="bad") as run:
            tmt.log({"loss": 0.5, "img": object()})
    assert info.value.message.startswith("logged metric 'img' must be a number, got object <object object at")
    assert only(project).status == "failed" and only(project).series == {}
    with tmt.start_run(name="bad2"):
        with pytest.raises(MetricTypeError, match="step must be an integer, got str 'x'"):
            tmt.log({"loss": 1}, step="x")
        with pytest.raises(MetricTypeError, match="tmt.log takes a dict of numbers, got float"):
            tmt.log(0.5)
    assert run.status == "failed"


def test_log_and_save_outside_a_run_say_what_to_do(project: Path) -> None:
    with pytest.raises(NoActiveRun) as info:
        tmt.log({"loss": 1.0})
    assert str(info.value) == (
        "tmt.log() was called outside a run\n"
        "hint: call it inside a function decorated with @tmt.recorder(...) or inside `with tmt.start_run(...):`"
    )
    with pytest.raises(NoActiveRun, match=r"^tmt.save\(\) was called outside a run"):
        tmt.tmt_save([1], name="x")
    assert not (project / ".tmt").exists()


def test_threads_started_inside_a_run_can_log(project: Path) -> None:
    @tmt.recorder(name="threads")
    def run():
        workers = [threading.Thread(target=tmt.log, args=({"w": i},)) for i in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    run()
    s = series_of(project, only(project), "w")
    assert sorted(s.values) == [0.0, 1.0, 2.0, 3.0] and s.steps == [0, 1, 2, 3]


def test_nested_runs_record_their_parent(project: Path) -> None:
    @tmt.recorder(name="inner")
    def inner(k):
        tmt.log({"k": k})
        return {"k": k}

    @tmt.recorder(name="outer")
    def outer():
        inner(1)
        tmt.log({"outer": 1.0})
        inner(2)

    outer()
    recs = records(project)
    by_name = {}
    for r in recs:
        by_name.setdefault(r.name, []).append(r)
    (out,) = by_name["outer"]
    assert [r.parent for r in by_name["inner"]] == [out.id, out.id]
    assert out.parent is None and sorted(out.series) == ["outer"]
    assert [series_of(project, r, "k").values for r in by_name["inner"]] == [[1.0], [2.0]]


# -- saved objects ------------------------------------------------------------------------------


def test_save_pickles_into_the_store(project: Path) -> None:
    @tmt.recorder(name="s")
    def run():
        path = tmt.save({"w": [1, 2]}, name="weights")
        assert pickle.loads(Path(path).read_bytes()) == {"w": [1, 2]}
        tmt.tmt_save({"w": [1, 2]}, name="same")  # same bytes: one object

    run()
    rec = only(project)
    data = pickle.dumps({"w": [1, 2]})
    store = Repo(project / ".tmt").store
    assert rec.artifacts[0] == {
        "name": "weights", "object": rec.artifacts[0]["object"], "size": len(data),
        "format": "pickle", "filename": "weights.pkl",
    }
    assert rec.artifacts[0]["object"] == rec.artifacts[1]["object"]
    assert store.get(rec.artifacts[0]["object"], verify=True) == data
    assert os.listdir(project / ".tmt" / "tmp") == []


def test_save_duplicate_names(project: Path) -> None:
    with tmt.start_run(name="dup") as run:
        run.save(1, name="x")
        with pytest.raises(DuplicatedNameError) as info:
            tmt.save(2, name="x")
        assert str(info.value) == (
            "an object named 'x' was already saved in run 'dup' and `allow_exist` is False\n"
            "hint: specify another name, or pass allow_exist=True to keep both"
        )
        tmt.save(2, name="x", allow_exist=True)
        tmt.save(3, name="x", allow_exist=True)
    assert [a["name"] for a in only(project).artifacts] == ["x", "x_1", "x_2"]
    assert [a["filename"] for a in only(project).artifacts] == ["x.pkl", "x_1.pkl", "x_2.pkl"]


def test_custom_save_variants(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.npy"

    def my_save_fn(obj, path):  # the predecessor's documented form
        np.save(path, obj)

    def save_elsewhere(obj, path):
        np.save(elsewhere, obj)
        return str(elsewhere)

    def text_save(obj, path):
        Path(path).write_text(str(obj))

    arr = np.arange(5)
    with tmt.start_run(name="custom"):
        tmt.save(arr, name="direct", custom_save=np.save, extension=".npy")
        tmt.save(arr, name="fn", custom_save=my_save_fn, extension=".npy")
        tmt.save(arr, name="np_adds_ext", custom_save=my_save_fn, extension="")
        tmt.save(arr, name="returned", custom_save=save_elsewhere, extension=".npy")
        tmt.save("hello", name="note", custom_save=text_save, extension="")
        with pytest.raises(RecordingError, match="custom_save did not write 'lazy' to the path it was given"):
            tmt.save(arr, name="lazy", custom_save=lambda o, p: None)
    arts = {a["name"]: a for a in only(project).artifacts}
    assert [(a["format"], a["filename"]) for a in arts.values()] == [
        ("npy", "direct.npy"), ("npy", "fn.npy"), ("npy", "np_adds_ext.npy"), ("npy", "returned.npy"),
        ("custom", "note"),
    ]
    store = Repo(project / ".tmt").store
    assert len({a["object"] for a in arts.values() if a["format"] == "npy"}) == 1
    with store.open(arts["direct"]["object"]) as f:
        assert np.array_equal(np.load(f), arr)
    assert store.get(arts["note"]["object"]) == b"hello"
    assert elsewhere.exists()  # a file the user chose to write elsewhere is theirs


# -- repeated names, predecessor settings ---------------------------------------------------


def test_duplicate_strategies(project: Path) -> None:
    from tmt.utils.duplicates import DuplicatePolicy, DuplicateStrategy

    assert DuplicateStrategy is tmt.DuplicateStrategy and DuplicatePolicy is tmt.DuplicatePolicy
    tmt.tmt_recorder(name="exp")(lambda: None)()
    tmt.tmt_recorder(name="exp")(lambda: None)()  # DONT_ALLOW (the default) no longer refuses
    first, second = records(project)
    sub = DuplicateStrategy(policy=DuplicatePolicy.AS_SUB_ENTRY)
    tmt.tmt_recorder("exp", duplicate_strategy=sub)(lambda: None)()
    tmt.tmt_recorder("exp", duplicate_strategy=DuplicateStrategy(DuplicatePolicy.AS_SUB_ENTRY, first.id))(
        lambda: None
    )()
    tmt.tmt_recorder("exp", duplicate_strategy=DuplicateStrategy(DuplicatePolicy.AS_NEW_ENTRY))(lambda: None)()
    tmt.tmt_recorder("new", duplicate_strategy=sub)(lambda: None)()
    recs = records(project)
    assert [r.parent for r in recs] == [None, None, second.id, first.id, None, None]


def test_legacy_config_path(project: Path, capsys: pytest.CaptureFixture) -> None:
    (project / "src").mkdir()
    (project / "src" / "a.py").write_text("a = 1\n")
    (project / "other.py").write_text("b = 2\n")
    cfg = project / "config.json"
    cfg.write_text(json.dumps({"tmt_dir": ".example", "snapshot_source": "src", "json_db_path": "db.json"}))
    tmt.tmt_recorder("custom_config", config_path=str(cfg))(lambda: None)()
    rec = only(project)
    assert rec.code["root"] == "src" and rec.code["files"] == 1
    assert rec.env["cwd"] == ".."
    assert capsys.readouterr().err == (
        f"tmt: warning: config_path {cfg} is a tmt 0.1 config; tmt now keeps everything in the .tmt/ "
        "store and ignores json_db_path, tmt_dir (see docs/recording.md)\n"
    )
    assert not (project / ".example").exists()
    tmt.tmt_recorder("missing", config_path="nope.json")(lambda: None)()
    assert capsys.readouterr().err.startswith("tmt: warning: config_path nope.json could not be read (")


# -- environment --------------------------------------------------------------------------------


def test_env_is_relative_to_the_code_root(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Repo.init(project)
    (project / "sub").mkdir()
    monkeypatch.chdir(project / "sub")
    monkeypatch.setattr("sys.argv", [str(project / "sub" / "train.py"), "--lr", "0.1"])
    monkeypatch.setenv("SLURM_JOB_ID", "123")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "4")
    tmt.recorder(name="env")(lambda: None)()
    rec = only(project)
    assert rec.env["cwd"] == "sub"
    assert rec.env["argv"] == ["sub/train.py", "--lr", "0.1"]
    assert rec.env["slurm"] == {"job_id": "123", "array_task_id": "4"}
    assert str(project) not in json.dumps(rec.env)
    assert str(project) not in json.dumps(rec.code)


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def test_git_state(project: Path) -> None:
    _git(project, "init", "-q", "-b", "main")
    (project / "a.py").write_text("a = 1\n")
    (project / ".gitignore").write_text(".tmt/\n")
    _git(project, "add", "-A")
    _git(project, "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True).stdout.strip()
    tmt.recorder(name="g")(lambda: None)()
    (project / "a.py").write_text("a = 2\n")
    tmt.recorder(name="g")(lambda: None)()
    clean, dirty = records(project)
    assert clean.code["git"] == {"commit": head, "branch": "main", "dirty": False}
    assert dirty.code["git"] == {"commit": head, "branch": "main", "dirty": True}


def test_no_git_executable_is_not_an_error(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / ".git").mkdir()  # looks like a work tree, but git cannot be started
    monkeypatch.setenv("PATH", str(project / "nothing-here"))
    tmt.recorder(name="nogit")(lambda: None)()
    assert only(project).code["git"] is None and only(project).status == "completed"


def test_user_is_recorded_without_importing_getpass(repo: Repo, project: Path, python: str) -> None:
    code = (
        "import sys, tmt\n"
        "with tmt.start_run('u'):\n"
        "    pass\n"
        "print('getpass' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("LOGNAME", "USER", "LNAME", "USERNAME")}
    env["USER"] = "alice"
    out = subprocess.run([python, "-c", code], cwd=project, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr
    (path,) = record_files(project / ".tmt" / "experiments")
    assert json.loads(path.read_bytes())["env"]["user"] == "alice"

    env.pop("USER")
    env["LOGNAME"] = "bob"
    subprocess.run([python, "-c", code], cwd=project, env=env, capture_output=True, text=True, check=True)
    users = {json.loads(p.read_bytes())["env"]["user"] for p in record_files(project / ".tmt" / "experiments")}
    assert users == {"alice", "bob"}


# -- the series format ------------------------------------------------------------------------


def test_series_blob_bytes_are_pinned() -> None:
    s = Series("loss", [0, None], [0.5, math.inf], [1.0, 2.0])
    data = encode_series(s)
    assert data.hex() == (
        "9501a46c6f737392"
        "00c0"
        "92cb3fe0000000000000cb7ff0000000000000"
        "92cb3ff0000000000000cb4000000000000000"
    )
    assert decode_series(data, "x") == s


def test_corrupt_series_blob_is_reported() -> None:
    from tmt.errors import CorruptObject

    with pytest.raises(CorruptObject, match="object abc is corrupt: not a series"):
        decode_series(b"\x93\x01", "abc")
    with pytest.raises(CorruptObject, match="series lists differ in length"):
        from tmt.store import codec

        decode_series(codec.packb([1, "a", [1], [1.0, 2.0], [0.0]]), "abc")


def test_journal_ignores_a_torn_last_frame(tmp_path: Path) -> None:
    rid = "0" * 32
    jp = journal_path(tmp_path, rid)
    jp.parent.mkdir()
    frames = encode_frame(1.0, [("a", 0, 1.0)]) + encode_frame(2.0, [("a", 1, 2.0), ("b", 5, 3.0)])
    for cut in range(len(frames) + 1):
        jp.write_bytes(frames[:cut])
        got = read_journal(tmp_path, rid)
        assert set(got) <= {"a", "b"}
    jp.write_bytes(frames + encode_frame(3.0, [("a", 2, 4.0)])[:-3])
    got = read_journal(tmp_path, rid)
    assert got["a"] == Series("a", [0, 1], [1.0, 2.0], [1.0, 2.0]) and got["b"].steps == [5]
    jp.write_bytes(frames + b"\0\0\0\0garbage")
    assert read_journal(tmp_path, rid)["a"].values == [1.0, 2.0]
    assert list(iter_frames(b"")) == []
    assert read_journal(tmp_path, "1" * 32) == {}


# -- a progress bar for a first snapshot of many files, on a terminal -------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _record_with_stderr(project: Path, monkeypatch, stream, files: int) -> str:
    import tmt.recorder.run as runmod

    for i in range(files):
        (project / f"m{i}.py").write_text(f"v = {i}\n")
    monkeypatch.setattr(runmod, "PROGRESS_DELAY_S", 0.0, raising=False)  # show it at once: the snapshot is quick here
    monkeypatch.setattr(sys, "stderr", stream)
    with tmt.start_run("p"):
        pass
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    return stream.getvalue()


def test_first_snapshot_of_many_files_shows_progress_on_a_terminal(repo: Repo, project: Path, monkeypatch) -> None:
    out = _record_with_stderr(project, monkeypatch, FakeTerminal(), 250)
    assert "Hashing files" in out


def test_no_progress_when_stderr_is_not_a_terminal(repo: Repo, project: Path, monkeypatch) -> None:
    assert _record_with_stderr(project, monkeypatch, io.StringIO(), 250) == ""


def test_no_progress_for_a_snapshot_of_few_files(repo: Repo, project: Path, monkeypatch) -> None:
    assert _record_with_stderr(project, monkeypatch, FakeTerminal(), 20) == ""
