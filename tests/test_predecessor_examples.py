"""The predecessor's (ThatMetricTimeline 0.1.8) documented examples run unchanged.

The example blocks below are copied verbatim from its README and docstrings; only the
imports and the call that runs them are added around them. scikit-learn is not a test
dependency, so the project gets a tiny stand-in `sklearn` package with the same names.
"""
from __future__ import annotations

import json
import pickle
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tmt.records.io import read_record, record_files
from tmt.repo import Repo

# The predecessor's examples, each in its own process: the full suite runs these, the quick default run does not.
pytestmark = pytest.mark.slow

SKLEARN_STUB = {
    "sklearn/__init__.py": "",
    "sklearn/linear_model.py": """
        import numpy as np

        class LogisticRegression:
            def fit(self, x, y):
                self.mean = float(np.mean(y))
                return self

            def predict(self, x):
                return (np.asarray(x)[:, 0] > 0).astype(int)
        """,
    "sklearn/metrics.py": """
        import numpy as np

        def accuracy_score(y, p):
            return np.float64(np.mean(np.asarray(y) == np.asarray(p)))

        def f1_score(y, p):
            y, p = np.asarray(y), np.asarray(p)
            tp = np.sum((y == 1) & (p == 1))
            return np.float64(2 * tp / max(1, np.sum(y == 1) + np.sum(p == 1)))
        """,
    "sklearn/datasets.py": """
        import numpy as np

        def make_classification(n=100):
            rng = np.random.default_rng(0)
            x = rng.normal(size=(n, 4))
            return x, (x[:, 0] > 0).astype(int)
        """,
}

PRELUDE = """
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, accuracy_score
from sklearn.datasets import make_classification
"""


def run_example(project: Path, python: str, body: str, call: str) -> subprocess.CompletedProcess:
    for rel, text in SKLEARN_STUB.items():
        path = project / rel
        path.parent.mkdir(exist_ok=True)
        path.write_text(textwrap.dedent(text))
    script = project / "example.py"
    script.write_text(PRELUDE + textwrap.dedent(body) + "\n" + textwrap.dedent(call))
    proc = subprocess.run([python, "example.py"], cwd=project, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc


def records(project: Path):
    return sorted(
        (read_record(p) for p in record_files(project / ".tmt" / "experiments")), key=lambda r: r.created_at
    )


def test_readme_tracking_experiments(project: Path, python: str) -> None:
    body = '''
    from tmt import tmt_recorder

    @tmt_recorder(name="some_experiment")
    def train_and_predict(x_tr, y_tr, x_te, y_te):
        lr = LogisticRegression()
        lr.fit(x_tr, y_tr)
        preds = lr.predict(x_te)
        return {'f1': f1_score(y_te, preds), 'accuracy': accuracy_score(y_te, preds)}
    '''
    call = """
    x, y = make_classification()
    print(train_and_predict(x[:50], y[:50], x[50:], y[50:]))
    """
    proc = run_example(project, python, body, call)
    assert proc.stdout.startswith("{'f1': np.float64(1.0), 'accuracy': np.float64(1.0)}")
    (rec,) = records(project)
    assert rec.name == "some_experiment" and rec.status == "completed"
    assert rec.metrics == {"f1": 1.0, "accuracy": 1.0}
    assert set(rec.params) == {"x_tr", "y_tr", "x_te", "y_te"} and rec.params["x_tr"].startswith("array(")
    assert rec.code["files"] == 5  # example.py and the four sklearn stub files


def test_readme_tmt_save(project: Path, python: str) -> None:
    body = '''
    from tmt import tmt_recorder, tmt_save

    @tmt_recorder(name="some_experiment_with_data")
    def train_and_predict(x_tr, y_tr, x_te, y_te):
        lr = LogisticRegression()
        lr.fit(x_tr, y_tr)
        preds = lr.predict(x_te)
        tmt_save(preds, name='lr_predictions')
        return {'f1': f1_score(y_te, preds), 'accuracy': accuracy_score(y_te, preds)}
    '''
    call = """
    x, y = make_classification()
    train_and_predict(x[:50], y[:50], x[50:], y[50:])
    """
    run_example(project, python, body, call)
    (rec,) = records(project)
    (art,) = rec.artifacts
    assert (art["name"], art["format"], art["filename"]) == ("lr_predictions", "pickle", "lr_predictions.pkl")
    preds = pickle.loads(Repo(project / ".tmt").store.get(art["object"]))
    assert isinstance(preds, np.ndarray) and preds.shape == (50,)


def test_docstring_custom_save_with_numpy(project: Path, python: str) -> None:
    body = '''
    from tmt import tmt_recorder, tmt_save

    def my_save_fn(obj, path):
        np.save(path, obj)

    @tmt_recorder(name="some_experiment_with_data")
    def train_and_predict(x_tr, y_tr, x_te, y_te):
        lr = LogisticRegression()
        lr.fit(x_tr, y_tr)
        preds = lr.predict(x_te)
        tmt_save(preds, name='lr_predictions', custom_save=my_save_fn, extension='.npy')
        return {'f1': f1_score(y_te, preds), 'accuracy': accuracy_score(y_te, preds)}
    '''
    call = """
    x, y = make_classification()
    train_and_predict(x[:50], y[:50], x[50:], y[50:])
    """
    run_example(project, python, body, call)
    (rec,) = records(project)
    (art,) = rec.artifacts
    assert (art["format"], art["filename"]) == ("npy", "lr_predictions.npy")
    with Repo(project / ".tmt").store.open(art["object"]) as f:
        assert np.load(f).shape == (50,)


def test_readme_custom_configuration(project: Path, python: str) -> None:
    config = project / "config.json"
    config.write_text(
        json.dumps(
            {
                "tmt_dir": ".example", "snapshot_source": ".", "snapshot_target": "snapshot_example",
                "last_snapshot_link": "snapshot_example/last", "gitignore_path": ".gitignore",
                "json_db_path": "tmt_db.json", "results_path": "results",
            }
        )
    )
    body = f'''
    from tmt import tmt_recorder

    @tmt_recorder('custom_config', config_path={str(config)!r})
    def with_custom_config():
        x, y = make_classification()
        lr = LogisticRegression()
        lr.fit(x, y)
        preds = lr.predict(x)
        return {{'f1': f1_score(y, preds), 'accuracy': accuracy_score(y, preds)}}
    '''
    proc = run_example(project, python, body, "with_custom_config()\n")
    assert "is a tmt 0.1 config; tmt now keeps everything in the .tmt/ store and ignores" in proc.stderr
    (rec,) = records(project)
    assert rec.name == "custom_config" and rec.metrics == {"f1": 1.0, "accuracy": 1.0}
    assert rec.code["root"] == "."


def test_duplicate_strategy_from_the_predecessor_docs(project: Path, python: str) -> None:
    body = '''
    from tmt import tmt_recorder
    from tmt.utils.duplicates import DuplicateStrategy, DuplicatePolicy

    @tmt_recorder(name="exp")
    def first():
        return {'a': 1}

    @tmt_recorder(name="exp", duplicate_strategy=DuplicateStrategy(policy=DuplicatePolicy.AS_SUB_ENTRY))
    def again():
        return {'a': 2}

    @tmt_recorder(name="exp", duplicate_strategy=DuplicateStrategy(policy=DuplicatePolicy.AS_NEW_ENTRY))
    def new():
        return {'a': 3}
    '''
    run_example(project, python, body, "first(); first(); again(); new()\n")
    recs = records(project)
    assert [r.metrics["a"] for r in recs] == [1, 1, 2, 3]
    assert [r.parent for r in recs] == [None, None, recs[1].id, None]
