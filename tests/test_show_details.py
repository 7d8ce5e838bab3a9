"""tmt show: metrics in full, outputs, children, packages, and one series' values."""
from __future__ import annotations

import json

import pytest

from cli_helpers import invoke, make_run
from tmt.records.series import Series, encode_series


@pytest.fixture
def family(repo):
    s = Series("loss", [0, 1, None], [0.5, 0.123456789, float("nan")], [1704110400.0, 1704110401.5, 1704110402.25])
    parent = make_run(repo, 1, "sweep", params={"lr": 0.000123456789, "C": 1.0},
                      metrics={"f1": 0.99123456789, "n": 3, "ok": True, "bad": float("inf")},
                      outputs={"label": "cat", "cm": [[5, 1], [0, 4]]}, series={"loss": repo.store.put(encode_series(s))})
    rec = parent
    rec.env["packages"] = {"scikit-learn": "1.5.2", "numpy": "2.1.0"}
    from tmt.records.io import write_record

    write_record(repo.experiments_dir, repo.tmp_dir, rec)
    make_run(repo, 2, "trial", parent=parent.id)
    make_run(repo, 3, "trial", parent=parent.id, status="failed")
    return parent


def test_show_prints_everything_in_full(family):
    r = invoke("show", "sweep")
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert ("params:\n"
            "  C   1.0\n"
            "  lr  0.000123456789\n"
            "\n"
            "metrics:\n"
            "  bad  inf\n"
            "  f1   0.99123456789\n"
            "  n    3\n"
            "  ok   true\n"
            "\n"
            "outputs:\n"
            "  cm     [[5, 1], [0, 4]]\n"
            "  label  cat\n") in text
    assert ("children:\n"
            "  22222222  trial  completed  2024-01-02\n"
            "  33333333  trial  failed     2024-01-03\n") in text
    assert text.endswith("packages:\n"
                         "  numpy         2.1.0\n"
                         "  scikit-learn  1.5.2\n")
    assert "  packages" not in text.split("env:\n")[1].split("packages:\n")[0]  # not repeated under env
    data = json.loads(invoke("show", "sweep", "--json").stdout)
    assert data["outputs"] == {"label": "cat", "cm": [[5, 1], [0, 4]]}
    assert data["children"] == [{"id": "2" * 32, "name": "trial", "status": "completed"},
                                {"id": "3" * 32, "name": "trial", "status": "failed"}]
    assert data["env"]["packages"] == {"scikit-learn": "1.5.2", "numpy": "2.1.0"}


def test_show_series_prints_its_values(family):
    r = invoke("show", "sweep", "--series", "loss", env={"TZ": "UTC"})
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ("step        value  time\n"
                        "   0          0.5  2024-01-01T12:00:00.000+00:00\n"
                        "   1  0.123456789  2024-01-01T12:00:01.500+00:00\n"
                        "   -          NaN  2024-01-01T12:00:02.250+00:00\n")
    data = json.loads(invoke("show", "sweep", "--series", "loss", "--json").stdout)
    assert data == {"name": "loss", "steps": [0, 1, None], "values": [0.5, 0.123456789, "NaN"],
                    "times": [1704110400.0, 1704110401.5, 1704110402.25]}
    r = invoke("show", "sweep", "--series", "acc")
    assert r.exit_code == 1
    assert r.stderr == "Error: run 11111111 (sweep) has no series 'acc'\nhint: its series: loss\n"


def test_series_is_a_sequence_of_steps_and_values(family, repo):
    import tmt

    s = tmt.get("sweep").series("loss")
    assert len(s) == 3 and s[0] == (0, 0.5) and s[-1][0] is None
    assert list(s)[:2] == [(0, 0.5), (1, 0.123456789)]
    assert s.steps == [0, 1, None] and s.times[0] == 1704110400.0 and s.last != s.last  # NaN
    df = s.to_pandas()
    assert list(df.columns) == ["step", "value", "time"] and df["step"].isna().tolist() == [False, False, True]
    assert str(df["time"].iloc[1]) == "2024-01-01 12:00:01.500000+00:00"
