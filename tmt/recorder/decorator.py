"""`@tmt.recorder(...)` (alias `tmt_recorder`, the predecessor's name): one call, one run."""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any, TypeVar

from tmt.recorder import binding
from tmt.recorder.run import LiveRun

if TYPE_CHECKING:
    from tmt.recorder.duplicates import DuplicateStrategy

    F = TypeVar("F", bound=Callable[..., Any])


def recorder(
    name: str | Callable[..., Any] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    save_on_exception: bool = False,
    description: str = "",
    duplicate_strategy: DuplicateStrategy | None = None,
    *,
    tags: Iterable[str] = (),
    params: Mapping[str, Any] | None = None,
) -> Any:
    """Record every call of the decorated function as a run.

    The code is snapshotted when the call starts; the arguments (defaults applied) and
    `params` become the run's params; a returned dict becomes its final metrics. A failing
    call is recorded as `failed` and its exception re-raised; Ctrl-C records `interrupted`.
    The positional order of the arguments is the predecessor's. `name` defaults to the
    function's name, and `@tmt.recorder` works without parentheses.
    """
    if callable(name) and not isinstance(name, str):
        return recorder()(name)

    def decorate(func: F) -> F:
        run_name = name or func.__name__
        binder = _binder(func)

        def new_run(args: tuple, kwargs: dict) -> LiveRun:
            return LiveRun(
                run_name,
                description=description,
                tags=tags,
                params={**binder(args, kwargs), **(params or {})},
                config_path=config_path,
                save_on_exception=save_on_exception,
                duplicate_strategy=duplicate_strategy,
            )

        def start(args: tuple, kwargs: dict) -> tuple[LiveRun, list]:
            """A started run and the call to make: [args, kwargs], changed by `tmt rerun
            --set` values when the run attaches to a `tmt rerun` (see _overrider)."""
            run = new_run(args, kwargs)
            call = [args, kwargs]
            run._override_params = _overrider(func, run, call)
            run._begin()
            return run, call

        if binding.is_coroutine_function(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                run, (args, kwargs) = start(args, kwargs)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as e:
                    run._end(e)
                    raise
                run._end(None, result)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run, (args, kwargs) = start(args, kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as e:
                run._end(e)
                raise
            run._end(None, result)
            return result

        return wrapper  # type: ignore[return-value]

    return decorate


#: The predecessor's name.
tmt_recorder = recorder


def _overrider(func: Callable[..., Any], run: LiveRun, call: list) -> Callable[[dict[str, Any]], list[str]]:
    """Apply {param: value} to the call in `call` ([args, kwargs]) and to `run.params`, for
    the function's own parameters; return the names applied."""

    def override(values: dict[str, Any]) -> list[str]:
        import inspect  # only under `tmt rerun --set`

        try:
            sig = inspect.signature(func)
            bound = sig.bind(*call[0], **call[1])
        except (TypeError, ValueError):
            return []
        bound.apply_defaults()
        applied = []
        for name, value in values.items():
            param = sig.parameters.get(name)
            if param is None or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            bound.arguments[name] = value
            run.params[name] = value
            applied.append(name)
        if applied:
            call[0], call[1] = bound.args, bound.kwargs
        return applied

    return override


def _binder(func: Callable[..., Any]) -> Callable[[tuple, dict], dict[str, Any]]:
    """Map a call's arguments to {parameter name: value}, defaults applied (self/cls left out).
    A plain function is bound from its code object (tmt/recorder/binding.py); anything else
    through inspect, imported only then."""
    bind_call = binding.binder(func)
    if bind_call is None:
        import inspect

        try:
            sig = inspect.signature(func)
        except (TypeError, ValueError):
            return lambda args, kwargs: {**({"args": list(args)} if args else {}), **kwargs}

        def bind_call(args: tuple, kwargs: dict) -> dict[str, Any]:
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            return bound.arguments

    def bind(args: tuple, kwargs: dict) -> dict[str, Any]:
        try:
            arguments = bind_call(args, kwargs)
        except TypeError:  # the call itself will fail and be recorded with its error
            return {}
        # every parameter has a value once bound: the first key is the first parameter
        first = next(iter(arguments), None)
        if first in ("self", "cls"):
            del arguments[first]
        return arguments

    return bind
