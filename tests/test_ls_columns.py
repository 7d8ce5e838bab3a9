"""tmt ls columns: params that differ, chosen columns, series statistics, unknown keys, widths."""
from __future__ import annotations

import json

import pytest

from cli_helpers import invoke, make_run
from tmt.records.series import Series, encode_frame, encode_series, journal_path, record_summary


@pytest.fixture
def sweep(repo):
    """Three completed runs of a sweep over C on two datasets, with a loss series each."""
    runs = []
    for n, (c, dataset, f1, losses) in enumerate([(0.1, "iris", 0.9, [0.9, 0.5, 0.4]),
                                                  (1.0, "iris", 0.95, [0.8, 0.3, 0.35]),
                                                  (1.0, "wine", 0.991, [0.7, 0.2, 0.1])], start=1):
        s = Series("loss", [0, 1, 2], losses, [0.0, 1.0, 2.0])
        blob = repo.store.put(encode_series(s))
        runs.append(make_run(repo, n, "svm", params={"C": c, "dataset": dataset, "seed": 0, "solver": {"tol": 1e-4}},
                             metrics={"f1": f1, "acc": f1 - 0.01}, series={"loss": blob},
                             series_summary=record_summary({"loss": s})))
    return runs


def lines(r):
    assert r.exit_code == 0, r.stderr
    return r.stdout.splitlines()


def test_params_that_differ_follow_the_metrics(sweep):
    r = invoke("ls")
    assert r.stdout == (
        "id        name  status            age  duration    acc     f1  params.C  params.dataset\n"
        "33333333  svm   completed  2024-01-03       12s  0.981  0.991       1.0  wine\n"
        "22222222  svm   completed  2024-01-02       12s   0.94   0.95       1.0  iris\n"
        "11111111  svm   completed  2024-01-01       12s   0.89    0.9       0.1  iris\n"
    )
    assert r.stderr == ""
    # one run listed: nothing differs
    assert lines(invoke("ls", "-n", "1"))[0] == "id        name  status            age  duration    acc     f1"


def test_params_and_metrics_chosen(sweep):
    assert lines(invoke("ls", "--params", "seed,solver.tol", "--metrics", "acc"))[:2] == [
        "id        name  status            age  duration    acc  params.seed  params.solver.tol",
        "33333333  svm   completed  2024-01-03       12s  0.981            0             0.0001",
    ]
    # params.C given to --metrics is the param; a bare param name there too
    assert lines(invoke("ls", "--metrics", "params.C,f1", "--params", ""))[0] == (
        "id        name  status            age  duration  params.C     f1")
    assert lines(invoke("ls", "--metrics", "C", "--params", ""))[0] == "id        name  status            age  duration  params.C"
    # the general form: exactly these columns, in this order
    assert lines(invoke("ls", "--columns", "params.dataset,loss.last,f1,loss.min"))[:2] == [
        "id        name  status            age  duration  params.dataset  loss.last     f1  loss.min",
        "33333333  svm   completed  2024-01-03       12s  wine                  0.1  0.991       0.1",
    ]


def test_json_rows_carry_params_and_metrics(sweep):
    data = json.loads(invoke("ls", "--json", "-n", "1").stdout)
    assert data[0]["params"] == {"C": 1.0, "dataset": "wine", "seed": 0, "solver": {"tol": 0.0001}}
    assert data[0]["metrics"] == {"acc": 0.981, "f1": 0.991}


def test_unknown_keys_are_named_with_close_names(sweep):
    r = invoke("ls", "--where", "f2 > 0.5")
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == ("Error: no run has a metric 'f2' (in --where 'f2 > 0.5')\n"
                        "hint: did you mean 'f1'? metrics they have: acc, f1\n")
    r = invoke("ls", "--where", "params.dataset == wine", "--where", "params.CC > 0")
    assert r.stderr == ("Error: no run has a param 'CC' (in --where 'params.CC > 0')\n"
                        "hint: did you mean 'params.C'? params they have: params.C, params.dataset, params.seed, "
                        "params.solver.tol\n")
    r = invoke("ls", "--sort", "los.last")
    assert r.stderr == ("Error: no run has a metric 'los.last' or a series 'los' to sort by\n"
                        "hint: did you mean 'loss.last'? metrics they have: acc, f1\n")
    r = invoke("ls", "--metrics", "f1,accuracy", "--params", "dataset,C2")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == "id        name  status            age  duration     f1  params.dataset"
    assert r.stderr == (
        "tmt: warning: no listed run has a metric 'accuracy'; did you mean 'acc'? metrics they have: acc, f1\n"
        "tmt: warning: no listed run has a param 'C2'; did you mean 'params.C'? params they have: params.C, "
        "params.dataset, params.seed, params.solver.tol\n")
    # a key that exists but no run matching: the plain answer
    r = invoke("ls", "--where", "f1 > 2")
    assert (r.exit_code, r.stderr) == (0, "No runs match these filters.\n")


def test_series_statistics_sort_and_filter(sweep):
    def ids(*args):
        return [line.split()[0] for line in lines(invoke("ls", *args))[1:]]

    assert ids("--sort", "loss.min", "--asc") == ["33333333", "22222222", "11111111"]
    assert ids("--sort", "loss.last") == ["11111111", "22222222", "33333333"]
    assert ids("--where", "loss.last < 0.38") == ["33333333", "22222222"]
    assert ids("--where", "loss.max >= 0.8", "--where", "params.dataset == iris") == ["22222222", "11111111"]


def test_runs_that_did_not_finish_show_their_series_last_values(repo, sweep, dead_pid: int):
    crashed = make_run(repo, 4, "svm", status="running", pid=dead_pid, params={"C": 10.0, "dataset": "wine"})
    path = journal_path(repo.tmt_dir, crashed.id)
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"".join(encode_frame(float(t), [("loss", t, 0.5 - t / 10), ("f1", t, 0.6 + t / 100)])
                              for t in range(3)))
    s = Series("loss", [0, 1], [2.0, 1.5], [0.0, 1.0])
    make_run(repo, 5, "svm", status="interrupted", params={"C": 0.01, "dataset": "wine"},
             series={"loss": repo.store.put(encode_series(s))}, series_summary=record_summary({"loss": s}))
    assert lines(invoke("ls", "-n", "3", "--params", "C")) == [
        "id        name  status              age  duration     f1  loss    acc  params.C",
        "55555555  svm   interrupted  2024-01-05       12s          1.5             0.01",
        "44444444  svm   crashed      2024-01-04         -   0.62   0.3             10.0",  # from its journal
        "33333333  svm   completed    2024-01-03       12s  0.991        0.981       1.0",
    ]
    # the journal answers --where and --sort for the crashed run
    assert [x.split()[0] for x in lines(invoke("ls", "--where", "loss.last < 0.32"))[1:]] == ["44444444", "33333333"]
    assert lines(invoke("ls", "--sort", "loss.last", "--asc", "-n", "1"))[1].startswith("33333333")


def test_parent_lists_children(repo):
    parent = make_run(repo, 1, "sweep")
    make_run(repo, 2, "trial", parent=parent.id, params={"lr": 0.1})
    make_run(repo, 3, "trial", parent=parent.id, params={"lr": 0.2})
    make_run(repo, 4, "other")
    assert [x.split()[0] for x in lines(invoke("ls", "--parent", "sweep"))[1:]] == ["33333333", "22222222"]
    r = invoke("ls", "--parent", "nope")
    assert r.exit_code == 2 and r.stderr.startswith("Error: no run matches 'nope'")


def test_width_shrinks_the_name_first_then_drops_columns(repo):
    long = "a_very_long_experiment_name_for_the_baseline"
    make_run(repo, 1, long, params={"C": 0.1}, metrics={"f1": 0.912345678, "acc": 0.5})
    make_run(repo, 2, long, params={"C": 1.0}, metrics={"f1": 0.87, "acc": 0.25})
    full = lines(invoke("ls", env={"COLUMNS": None}))  # piped and no COLUMNS: never cut
    assert full[1] == f"22222222  {long}  completed  2024-01-02       12s  0.25     0.87       1.0"
    r = invoke("ls", env={"COLUMNS": "80"})
    assert r.stdout.splitlines() == [
        "id        name          status            age  duration   acc       f1  params.C",
        "22222222  a_very_long…  completed  2024-01-02       12s  0.25     0.87       1.0",
        "11111111  a_very_long…  completed  2024-01-01       12s   0.5  0.91235       0.1",
    ]
    assert r.stderr == ""
    r = invoke("ls", env={"COLUMNS": "60"})
    assert r.stdout.splitlines() == [
        "id        name         status            age  duration   acc",
        "22222222  a_very_lon…  completed  2024-01-02       12s  0.25",
        "11111111  a_very_lon…  completed  2024-01-01       12s   0.5",
    ]
    assert r.stderr == "(2 more columns did not fit: f1, params.C; choose with --columns, or widen the terminal)\n"


def test_names_from_records_are_escaped_in_messages(repo):
    make_run(repo, 1, "a", metrics={"f1\x1b[2J": 0.5})
    r = invoke("ls", "--where", "zz > 1")
    assert r.exit_code == 2
    assert r.stderr == "Error: no run has a metric 'zz' (in --where 'zz > 1')\nhint: metrics they have: f1\\x1b[2J\n"
    assert "\x1b" not in invoke("ls", env={"COLUMNS": "40"}).stderr
