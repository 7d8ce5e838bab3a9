"""Equality, repr and frozenness over `__slots__`: what `@dataclass` gave the classes a run
loads, without importing `dataclasses`.

`dataclasses` imports `inspect` (and with it `ast`, `dis`, `tokenize`, `linecache`): about
20 ms of every `python train.py`'s start and more objects for the interpreter's exit to
visit. A class lists its fields in `__slots__`, in the order a dataclass would compare and
show them, and writes its own `__init__`.
"""
from __future__ import annotations

TYPE_CHECKING = False  # typing costs milliseconds at the start of every script
if TYPE_CHECKING:
    from typing import Any


class Plain:
    """`==` field by field between instances of the same class, `repr` as a dataclass's;
    unhashable, like a dataclass with eq and without frozen."""

    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({fields})"


class Frozen(Plain):
    """A Plain whose fields are set once, in `__init__` (through `object.__setattr__`), and
    hashable by them, like a frozen dataclass."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a frozen {self.__class__.__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a frozen {self.__class__.__name__}")

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(self._values())

    def __reduce__(self) -> tuple[Any, ...]:
        # pickle and copy would restore the fields with setattr, which a frozen class refuses
        return (self.__class__, self._values())
