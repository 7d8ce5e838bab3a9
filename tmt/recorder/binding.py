"""A call's arguments as {parameter name: value}, defaults applied, without `inspect`.

What `inspect.signature(f).bind(*args, **kwargs)` and `apply_defaults()` give, read from a
plain function's code object (`co_argcount`, `co_posonlyargcount`, `co_kwonlyargcount`,
`co_varnames`, the *args/**kwargs flags), `__defaults__` and `__kwdefaults__`. `inspect`
costs every decorated run ~10 ms to import (it pulls `ast`, `dis`, `tokenize`); it is
imported only for what a code object cannot describe: bound methods, `functools.partial`,
callable objects, builtins, and functions whose signature is redirected (`__wrapped__`,
`__signature__`, a partialmethod).

One case where Python's own call rules and `inspect` before Python 3.13 part ways: a
positional-only parameter with a default, named as a keyword too, in a function that takes
**kwargs (`def f(a=1, /, **kw)` called as `f(a=2)`). Python runs the call (a=1, kw={"a": 2});
inspect before 3.13 refuses to bind it. The binder follows Python (and inspect 3.13+).
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Binder = Callable[[tuple, dict], dict[str, Any]]

_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08
_CO_COROUTINE = 0x80
#: Attributes by which a function's signature is not its code's (inspect follows them).
_REDIRECTS = ("__wrapped__", "__signature__", "_partialmethod", "__partialmethod__")


def _plain_function(func: object) -> bool:
    """A `def` function whose code object is its whole signature."""
    return type(func) is type(_plain_function) and not any(hasattr(func, a) for a in _REDIRECTS)


def is_coroutine_function(func: Callable[..., Any]) -> bool:
    """`inspect.iscoroutinefunction(func)`, without importing inspect for a plain function."""
    if _plain_function(func) and not hasattr(func, "_is_coroutine_marker"):  # 3.12's markcoroutinefunction
        return bool(func.__code__.co_flags & _CO_COROUTINE)
    import inspect

    return inspect.iscoroutinefunction(func)


def binder(func: Callable[..., Any]) -> Binder | None:
    """A function binding a call of `func` (args, kwargs) to {name: value} in parameter
    order, defaults applied, raising TypeError for a call `func` would refuse; None when
    `func` is not a plain function (use inspect)."""
    if not _plain_function(func):
        return None
    code = func.__code__
    npos, nposonly, nkwonly = code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount
    names = code.co_varnames
    positional = names[:npos]
    kwonly = names[npos:npos + nkwonly]
    at = npos + nkwonly
    star = names[at] if code.co_flags & _CO_VARARGS else None
    at += star is not None
    starstar = names[at] if code.co_flags & _CO_VARKEYWORDS else None
    defaults = func.__defaults__ or ()
    if len(defaults) > npos:
        return None  # __defaults__ reassigned by hand: inspect decides what that means
    first_default = npos - len(defaults)
    kwdefaults = func.__kwdefaults__ or {}
    by_keyword = frozenset(positional[nposonly:]) | frozenset(kwonly)  # names a keyword may fill

    def bind(args: tuple, kwargs: dict) -> dict[str, Any]:
        nargs = len(args)
        if nargs > npos and star is None:
            raise TypeError("too many positional arguments")
        out: dict[str, Any] = {}
        for i, name in enumerate(positional):
            if i < nargs:
                if i >= nposonly and name in kwargs:
                    raise TypeError(f"multiple values for argument {name!r}")
                out[name] = args[i]
            elif i >= nposonly and name in kwargs:
                out[name] = kwargs[name]
            elif i >= first_default:
                out[name] = defaults[i - first_default]
            else:
                raise TypeError(f"missing a required argument: {name!r}")
        if star is not None:
            out[star] = args[npos:]
        for name in kwonly:
            if name in kwargs:
                out[name] = kwargs[name]
            elif name in kwdefaults:
                out[name] = kwdefaults[name]
            else:
                raise TypeError(f"missing a required keyword-only argument: {name!r}")
        rest = {k: v for k, v in kwargs.items() if k not in by_keyword}
        if starstar is not None:
            out[starstar] = rest
        elif rest:
            raise TypeError(f"got an unexpected keyword argument {next(iter(rest))!r}")
        return out

    return bind
