"""The decorator binds a call's arguments from the function's code object, as inspect would."""
from __future__ import annotations

import asyncio
import functools
import inspect
import sys

from hypothesis import given, settings, strategies as st

from tmt.recorder import binding
from tmt.recorder.decorator import _binder

NAMES = ["a", "b", "c", "d", "e", "f", "g", "h"]
KINDS = ["posonly", "pos", "star", "kwonly", "starstar"]


@st.composite
def signatures(draw):
    """(source of a `def f(...)`, its parameters as (name, kind, has a default))."""
    names = draw(st.permutations(NAMES))
    params = []
    positional_default = False  # after one positional default, every positional has one
    for kind in KINDS:
        count = draw(st.integers(0, 1 if kind in ("star", "starstar") else 2))
        for _ in range(count):
            name = names[len(params)]
            if kind in ("posonly", "pos"):
                default = positional_default or draw(st.booleans())
                positional_default = default
            else:
                default = kind == "kwonly" and draw(st.booleans())
            params.append((name, kind, default))
    parts = []
    for i, (name, kind, default) in enumerate(params):
        value = f"={100 + i}" if default else ""
        parts.append({"star": f"*{name}", "starstar": f"**{name}"}.get(kind, name + value))
        if kind == "posonly" and (i + 1 == len(params) or params[i + 1][1] != "posonly"):
            parts.append("/")
    if any(k == "kwonly" for _, k, _ in params) and not any(k == "star" for _, k, _ in params):
        at = next(i for i, p in enumerate(parts) if p.split("=")[0] in
                  [n for n, k, _ in params if k == "kwonly"])
        parts.insert(at, "*")
    return f"def f({', '.join(parts)}):\n    return dict(locals())\n", params


def make(source: str):
    space: dict = {}
    exec(source, space)
    return space["f"]


def by_inspect(func, args: tuple, kwargs: dict):
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        return TypeError
    bound.apply_defaults()
    return bound.arguments


def by_binder(func, args: tuple, kwargs: dict):
    bind = binding.binder(func)
    assert bind is not None
    try:
        return bind(args, kwargs)
    except TypeError:
        return TypeError


def by_calling(func, args: tuple, kwargs: dict):
    try:
        return func(*args, **kwargs)
    except TypeError:
        return TypeError


calls = st.tuples(
    st.lists(st.integers(0, 9), max_size=6).map(tuple),
    st.dictionaries(st.sampled_from(NAMES + ["zz"]), st.integers(0, 9), max_size=4),
)


@settings(max_examples=600, deadline=None)
@given(signatures(), calls)
def test_the_binder_gives_what_inspect_gives(sig, call):
    source, params = sig
    func = make(source)
    args, kwargs = call
    ours = by_binder(func, args, kwargs)
    assert ours == by_calling(func, args, kwargs)  # Python's own call rules, order aside
    posonly = [n for n, k, _ in params if k == "posonly"]
    # inspect before 3.13 refuses a positional-only name also passed as a keyword, which
    # Python accepts into **kwargs (tmt/recorder/binding.py): there, Python's call decides
    if sys.version_info < (3, 13) and any(n in kwargs for n in posonly[len(args):]):
        return
    theirs = by_inspect(func, args, kwargs)
    assert ours == theirs
    if ours is not TypeError:
        assert list(ours) == list(theirs)  # in parameter order, as inspect gives them


def test_a_positional_only_name_passed_as_a_keyword_lands_in_kwargs_as_python_does():
    def f(a=1, /, **kw):
        return a, kw

    assert f(a=2) == (1, {"a": 2})
    assert binding.binder(f)((), {"a": 2}) == {"a": 1, "kw": {"a": 2}}


def test_what_a_code_object_cannot_describe_is_bound_by_inspect():
    def base(x, y=2):
        pass

    @functools.wraps(base)
    def wrapped(*args, **kwargs):
        pass

    class Model:
        def fit(self, lr=0.1):
            pass

        def __call__(self, epochs=3):
            pass

    for func in (wrapped, functools.partial(base, 1), Model().fit, Model(), print):
        assert binding.binder(func) is None
    assert _binder(wrapped)((5,), {}) == {"x": 5, "y": 2}  # inspect follows __wrapped__
    assert _binder(functools.partial(base, 1))((), {"y": 3}) == {"y": 3}  # x is the partial's own
    assert _binder(Model().fit)((), {}) == {"lr": 0.1}
    assert _binder(Model())((), {"epochs": 5}) == {"epochs": 5}


def test_self_and_cls_are_left_out_and_a_bad_call_binds_nothing():
    def method(self, lr=0.1, *rest, **options):
        pass

    bind = _binder(method)
    assert bind((object(),), {}) == {"lr": 0.1, "rest": (), "options": {}}
    assert bind((), {}) == {}  # missing self: the call fails and is recorded with its error
    assert _binder(lambda: None)((), {}) == {}


def test_coroutine_functions_are_told_apart_as_inspect_does():
    async def job():
        pass

    def plain():
        pass

    class Model:
        async def fit(self):
            pass

    for func in (job, plain, Model().fit, functools.partial(job), print, lambda: None):
        assert binding.is_coroutine_function(func) == inspect.iscoroutinefunction(func)
    assert binding.is_coroutine_function(job)
    asyncio.run(job())  # no "never awaited" warning left behind
