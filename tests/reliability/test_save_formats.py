"""tmt.save(format=...): numpy arrays and JSON values that load back without unpickling."""
from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

import tmt
from tmt.errors import RecordingError


def test_numpy_and_json_round_trip_without_pickle(repo, monkeypatch):
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    value = {"classes": ["cat", "dog"], "f1": 0.5, "n": 3, "nested": [None, True]}
    with tmt.start_run(name="fmt") as run:
        p_np = run.save(arr, name="preds", format="numpy")
        p_js = tmt.save(value, name="meta", format="json")
        tmt.save(value, name="pick")

    assert open(p_np, "rb").read(6) == b"\x93NUMPY"
    assert json.loads(open(p_js, encoding="utf-8").read()) == value
    r = tmt.get("fmt")
    arts = r.artifacts
    assert (arts["preds"].format, arts["preds"].filename) == ("npy", "preds.npy")
    assert (arts["meta"].format, arts["meta"].filename) == ("json", "meta.json")
    assert (arts["pick"].format, arts["pick"].filename) == ("pickle", "pick.pkl")

    # numpy and json artifacts load with pickle disabled entirely.
    def no_pickle(*a, **k):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", no_pickle)
    monkeypatch.setattr(pickle, "loads", no_pickle)
    got = arts["preds"].load()
    assert got.dtype == np.float32 and (got == arr).all()
    assert arts["meta"].load() == value


def test_numpy_object_arrays_and_unjsonable_values_are_refused(repo):
    with tmt.start_run(name="bad") as run:
        with pytest.raises(RecordingError) as e:
            run.save(np.array([{"a": 1}, None], dtype=object), name="objs", format="numpy")
        assert str(e.value).startswith("cannot save 'objs' with format='numpy': ")
        assert "no Python objects" in e.value.hint
        with pytest.raises(RecordingError) as e:
            run.save({"x": object()}, name="j", format="json")
        assert str(e.value).startswith("cannot save 'j' with format='json': ")
        with pytest.raises(RecordingError, match=r"format must be one of 'pickle', 'numpy', 'json', got 'hdf5'"):
            run.save(1, name="h", format="hdf5")
        with pytest.raises(RecordingError, match=r"got both format='json' and custom_save"):
            run.save(1, name="h", format="json", custom_save=lambda o, p: None)
    # Nothing was listed for the refused saves; the run still completed.
    r = tmt.get("bad")
    assert r.status == "completed" and dict(r.artifacts) == {}


def test_extension_defaults_follow_the_format_and_custom_save_keeps_pkl(repo):
    with tmt.start_run(name="ext") as run:
        run.save([1, 2], name="a", format="json", extension=".txt")
        run.save(np.zeros(2), name="b", custom_save=np.save)
        run.save(b"raw", name="c", custom_save=lambda o, p: open(p, "wb").write(o))
    arts = tmt.get("ext").artifacts
    assert (arts["a"].filename, arts["a"].format) == ("a.txt", "json")
    assert arts["a"].load() == [1, 2]
    assert (arts["b"].filename, arts["b"].format) == ("b.npy", "npy")
    assert (arts["c"].filename, arts["c"].format) == ("c.pkl", "pkl")


def test_load_docstring_warns_about_pickles():
    from tmt.query.run import Artifact

    doc = " ".join(Artifact.load.__doc__.split())
    assert "from a store someone else wrote runs code of their choosing" in doc
    assert 'format="numpy"' in doc and 'format="json"' in doc
