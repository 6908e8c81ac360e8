"""Immutable records: typing.NamedTuple's semantics at collections.namedtuple's start-up cost.

typing.NamedTuple type-checks every annotated field when the class is created, about 20 µs a
field; the kernel model alone has fifty, and a CLI call pays for every record class it imports
(issue 12: start-up is speed). @record reads the field names and defaults from the class body
(annotations stay strings, never evaluated) and builds the namedtuple subclass directly.
"""

from collections import namedtuple

_SKIP = ("__dict__", "__weakref__", "__annotations__", "__module__", "__qualname__")


def record(cls):
    """Class decorator: the annotated fields of *cls* (with their defaults) as a namedtuple class that
    also has the class's docstring and methods. Methods must not use zero-argument super()."""
    names = list(cls.__dict__.get("__annotations__", {}))
    defaults = [cls.__dict__[n] for n in names if n in cls.__dict__]
    out = namedtuple(cls.__name__, names, defaults=defaults or None, module=cls.__module__)
    for key, value in cls.__dict__.items():
        if key not in names and key not in _SKIP:
            setattr(out, key, value)  # one class, not a subclass: half the start-up cost
    out.__qualname__ = cls.__qualname__
    return out
