"""tmt timeline: noise, change points, attribution of each jump, its JSON, chart and files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_helpers import invoke, make_run
from test_plot import golden
from tmt.timeline import changepoints as cp
from tmt.timeline.functions import changed_functions, fingerprints

# -- noise and change points ------------------------------------------------------------------


def test_noise_from_repeats_and_from_differences():
    values = [0.0, 1.0, 0.0, 1.0, 10.0, 11.0, 10.0, 11.0]
    groups = ["a", "a", "a", "a", "b", "b", "b", "b"]
    noise = cp.estimate_noise(values, groups)
    assert noise.method == "repeats" and noise.samples == 6
    assert noise.sigma == pytest.approx(1.0 / cp._MAD_DIFF)
    noise = cp.estimate_noise(values, None)  # the one jump of 9 is outvoted by the 1s
    assert noise.method == "differences" and noise.sigma == pytest.approx(1.0 / cp._MAD_DIFF)


def test_change_points_find_steps_and_nothing_in_flat_or_noise_free_data():
    assert cp.change_points([0.0] * 5 + [1.0] * 5, 0.1) == [5]
    assert cp.change_points([0.0] * 5 + [1.0] * 5 + [0.5] * 5, 0.1) == [5, 10]
    assert cp.change_points([0.5] * 20, cp.estimate_noise([0.5] * 20).sigma) == []
    # deterministic runs (no noise): any real change is a jump
    values = [0.8] * 4 + [0.81] * 4
    assert cp.change_points(values, cp.estimate_noise(values, ["a"] * 4 + ["b"] * 4).sigma) == [4]


def test_a_jump_one_run_off_the_edit_snaps_to_the_edit():
    # a jump of 5 sigma; the edit is at run 4, whose value sits nearer the old level
    values = [0.0, 0.1, -0.1, 0.0, 0.24, 0.5, 0.4, 0.6, 0.5]
    found = cp.change_points(values, 0.1)
    assert found == [5]
    assert cp.snap(values, found, 0.1, {4}) == [4]
    assert cp.snap(values, [5], 0.1, {1}) == [5]  # too far away: stays


# -- functions --------------------------------------------------------------------------------


def _changed(a: str, b: str):
    return changed_functions(fingerprints(textwrap.dedent(a).encode()), fingerprints(textwrap.dedent(b).encode()))


def test_functions_changed_are_the_innermost_definitions_that_hold_the_edit():
    base = """
        '''Module doc.'''
        LR = 0.1

        def helper(x):
            return x + 1

        class Model:
            def forward(self, x):
                '''Doc.'''
                return helper(x) * 2

            def step(self):
                def inner():
                    return 1
                return inner()
        """
    base = textwrap.dedent(base)
    assert _changed(base, base.replace("* 2", "* 3")) == [("Model.forward", "modified")]
    assert _changed(base, base.replace("return 1", "return 2")) == [("Model.step.inner", "modified")]
    assert _changed(base, base.replace("LR = 0.1", "LR = 0.2")) == [("<module>", "modified")]
    assert _changed(base, base.replace("x + 1", "x + 1  # a comment")) == []
    assert _changed(base, base.replace("'''Doc.'''", "'''Other doc.'''")) == []
    assert _changed(base, "\n\n" + base) == []  # moved down: not changed
    assert _changed(base, base + "\ndef new():\n    pass\n") == [("new", "added")]
    assert fingerprints(b"def broken(:\n") is None


# -- a scenario of real recorded runs -----------------------------------------------------------

MODEL = """\
import random


def score(seed):
    # the model: 0.80 plus noise of the seed
    return 0.80 + random.Random(seed).gauss(0, 0.005)
"""
UTILS = """\
def unused(x):
    return x
"""
TRAIN = """\
import sys

import tmt
from model import score


@tmt.recorder(name="exp")
def train(lr=0.1, seed=0):
    bump = 0.05 if lr < 0.05 else 0.0
    return {"f1": score(seed) + bump, "other": 1.0}


if __name__ == "__main__":
    train(lr=float(sys.argv[1]), seed=int(sys.argv[2]))
"""


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    """16 runs recorded by real processes: a decoy README edit before run 5, a decoy edit of
    an unused function before run 7, the real code change (model.score) before run 9, a
    comment-only edit of model.py before run 11, lr 0.1 -> 0.01 from run 13, a new seed
    at every run."""
    root = tmp_path / "proj"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text(".venv/\n__pycache__/\n")
    (root / "model.py").write_text(MODEL)
    (root / "utils.py").write_text(UTILS)
    (root / "train.py").write_text(TRAIN)
    (root / "README.md").write_text("# exp\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMT_")}
    # The edits keep model.py's size, and a .pyc is matched to its source by size and mtime
    # in whole seconds: runs this fast would import the stale one. No .pyc of the project.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    for run in range(1, 17):
        if run == 5:
            (root / "README.md").write_text("# exp\n\nMore words.\n")
        if run == 7:
            (root / "utils.py").write_text(UTILS.replace("return x", "return x * 1"))
        if run == 9:
            (root / "model.py").write_text(MODEL.replace("0.80 +", "0.86 +"))
        if run == 11:
            (root / "model.py").write_text(MODEL.replace("0.80 +", "0.86 +").replace("the model", "our model"))
        lr = "0.01" if run >= 13 else "0.1"
        subprocess.run([sys.executable, "train.py", lr, str(run)], cwd=root, env=env, check=True)
    return root


@pytest.mark.slow
def test_planted_jumps_their_causes_and_the_quiet_boundaries(planted, monkeypatch):
    monkeypatch.chdir(planted)
    r = invoke("timeline", "f1", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    runs = [x["id"] for x in data["runs"]]
    assert len(runs) == 16
    assert data["noise"]["method"] == "repeats"
    jumps = data["jumps"]
    assert [(j["run"], j["before"]) for j in jumps] == [(runs[8], runs[7]), (runs[12], runs[11])]
    code, param = jumps
    assert code["delta"] == pytest.approx(0.06, abs=0.01)
    assert code["functions"] == ["model.py:score"] and code["files"] == ["model.py"]
    assert code["causes"][0]["kind"] == "function" and code["causes"][0]["name"] == "model.py:score"
    assert set(code["params"]) == {"seed"} and code["causes"][-1]["name"] == "seed"
    assert code["params"]["seed"]["score"] < 0.2 and code["params"]["seed"]["changed_at"] == 15
    assert param["delta"] == pytest.approx(0.05, abs=0.01)
    assert param["causes"][0]["name"] == "lr"
    assert param["params"]["lr"]["before"] == 0.1 and param["params"]["lr"]["after"] == 0.01
    assert param["files"] == [] and param["functions"] == []
    quiet = {(q["kind"], q["name"]): q["run"] for q in data["quiet"]}
    assert quiet[("file", "README.md")] == runs[4]
    assert quiet[("function", "utils.py:unused")] == runs[6]
    assert quiet[("file", "model.py")] == runs[10]  # the comment-only edit
    assert ("function", "model.py:score") not in quiet
    # the people's view: numbered markers and the legend of causes
    r = invoke("timeline", "f1", env={"COLUMNS": "90"})
    lines = r.output.splitlines()
    assert lines[0].split() == ["1", "2"]  # the markers above the chart
    assert "[1] run 9 " in r.output and "function model.py:score" in r.output
    assert "[2] run 13 " in r.output and "param    lr 0.1 -> 0.01" in r.output
    assert "(also changed at 13 boundaries without a jump)" in r.output  # the seed, ranked down
    assert "changed without a jump: file README.md (run 5), file utils.py (run 7), file model.py (run 11)" in r.output


# -- golden outputs on a deterministic store -----------------------------------------------------


def timeline_store(repo) -> None:
    values = [0.80, 0.81, 0.79, 0.80, 0.90, 0.91, 0.89, 0.90, 0.70, 0.71]
    for n, v in enumerate(values, 1):
        code = b"def f(x):\n    return x * 2\n" if n >= 5 else b"def f(x):\n    return x\n"
        files = {"model.py": code, "notes.txt": b"v2\n" if n >= 3 else b"v1\n"}
        params = {"seed": n, "lr": 0.01 if n >= 9 else 0.1}
        make_run(repo, n, f"run{n}", files=files, params=params, metrics={"f1": v})


def test_golden_timeline_text_json_and_svg(repo, tmp_path):
    timeline_store(repo)
    r = invoke("timeline", "f1", env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    golden("timeline_f1.txt", r.output)
    r = invoke("timeline", "f1", "--json")
    golden("timeline_f1.json", r.output)
    data = json.loads(r.output)
    assert [j["index"] for j in data["jumps"]] == [4, 8]
    assert set(data["jumps"][0]) >= {"run", "before", "delta", "params", "files", "functions", "packages"}
    r = invoke("timeline", "f1", "-o", str(tmp_path / "t.svg"))
    assert "Wrote the timeline of 'f1' (10 runs, 2 jumps) to" in r.output
    golden("timeline_f1.svg", (tmp_path / "t.svg").read_text(encoding="utf-8"))
    invoke("timeline", "f1", "-o", str(tmp_path / "t.html"))
    page = (tmp_path / "t.html").read_text(encoding="utf-8")
    assert "model.py:f" in page and "lr 0.1 -&gt; 0.01" in page


def test_packages_are_candidates_when_runs_record_them(repo):
    for n, (v, numpy) in enumerate([(0.8, "1.26.4")] * 3 + [(0.9, "2.0.0")] * 3, 1):
        env = {"argv": [], "packages": {"numpy": numpy, "tmt": "0.2.0"}}
        make_run(repo, n, "r", metrics={"f1": v}, **{"extra": {}})
        rec_path = repo.experiments_dir / f"{(f'{n:x}' * 32)[:32]}.json"
        rec = json.loads(rec_path.read_text())
        rec["env"] = env
        os.chmod(rec_path, 0o644)
        rec_path.write_text(json.dumps(rec))
    from tmt.query import rebuild_index

    rebuild_index(repo)
    data = json.loads(invoke("timeline", "f1", "--json").output)
    (jump,) = data["jumps"]
    assert jump["packages"] == {"numpy": {"before": "1.26.4", "after": "2.0.0", "changed_at": 1, "score": 1.0,
                                          "status": "modified"}}


def test_runs_without_packages_or_code_are_still_compared(repo):
    make_run(repo, 1, "a", metrics={"f1": 0.5}, params={"k": 1})
    make_run(repo, 2, "a", metrics={"f1": "NaN"})
    make_run(repo, 3, "b", metrics={"f1": 0.5}, params={"k": 2})
    data = json.loads(invoke("timeline", "f1", "--json").output)
    assert len(data["runs"]) == 2 and data["skipped"] == 1 and data["jumps"] == []


def test_timeline_errors_say_what_to_do(repo):
    r = invoke("timeline", "f1")
    assert r.exit_code == 2 and "Error: no runs yet\nhint: list runs with `tmt ls`" in r.output
    make_run(repo, 1, "a", metrics={"acc": 0.5})
    r = invoke("timeline", "f1")
    assert "Error: no run among these 1 has a numeric metric 'f1'\nhint: metrics they have: acc" in r.output
    r = invoke("timeline", "acc", "--name", "^zzz")
    assert "Error: no runs match these filters" in r.output
    r = invoke("timeline", "acc", "-o", "t.pdf")
    assert "unknown picture format '.pdf'" in r.output


def test_api_twin(repo, tmp_path):
    import tmt

    timeline_store(repo)
    tl = tmt.timeline("f1", repo=repo, output=tmp_path / "t.html")
    assert [j.index for j in tl.jumps] == [4, 8]
    assert tl.jumps[0].causes[0].change.name == "model.py:f"
    assert tl.to_json()["jumps"][1]["params"]["lr"]["after"] == 0.01
    assert (tmp_path / "t.html").exists()
    assert len(tmt.timeline("f1", repo=repo, limit=3).runs) == 3
