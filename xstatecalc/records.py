"""Immutable records: typing.NamedTuple's behaviour without its start-up cost.

typing.NamedTuple type-checks every annotated field, and collections.namedtuple compiles a
__new__ for every class with eval(); together about 100 µs a class, and a CLI call imports
some twenty (issue 12: start-up is speed). @record builds the same kind of class from the
field names and defaults of a plain class body (annotations stay strings, never evaluated),
with one shared __new__: tuple subclass, _fields, _field_defaults, _make, _replace, _asdict,
a namedtuple-style repr, equality and hashing of tuples.
"""

from operator import itemgetter

_MISSING = object()
_SKIP = ("__dict__", "__weakref__", "__annotations__", "__module__", "__qualname__")


def _new_for(name: str, fields: tuple, defaults: dict):
    count, index = len(fields), {f: i for i, f in enumerate(fields)}

    def __new__(cls, *args, **kwargs):
        if not kwargs and len(args) == count:
            return tuple.__new__(cls, args)
        if len(args) > count:
            raise TypeError(f"{name}() takes {count} arguments, got {len(args)}")
        values = list(args) + [_MISSING] * (count - len(args))
        for key, value in kwargs.items():
            i = index.get(key)
            if i is None or values[i] is not _MISSING:
                raise TypeError(f"{name}() got an unexpected or repeated argument {key!r}")
            values[i] = value
        for i, value in enumerate(values):
            if value is _MISSING:
                if fields[i] not in defaults:
                    raise TypeError(f"{name}() missing argument {fields[i]!r}")
                values[i] = defaults[fields[i]]
        return tuple.__new__(cls, values)

    return __new__


def _make(cls, iterable):
    values = tuple.__new__(cls, iterable)
    if len(values) != len(cls._fields):
        raise TypeError(f"expected {len(cls._fields)} values, got {len(values)}")
    return values


def _replace(self, **changes):
    values = self._make(map(changes.pop, self._fields, self))
    if changes:
        raise ValueError(f"unexpected field names: {list(changes)!r}")
    return values


def _asdict(self) -> dict:
    return dict(zip(self._fields, self))


def __repr__(self) -> str:
    return f"{type(self).__name__}(" + ", ".join(f"{f}={v!r}" for f, v in zip(self._fields, self)) + ")"


def __getnewargs__(self):
    return tuple(self)


def record(cls):
    """Class decorator: the annotated fields of *cls* (with their defaults) as an immutable tuple class that
    keeps the class's docstring and methods, like typing.NamedTuple. No zero-argument super() in methods."""
    fields = tuple(cls.__dict__.get("__annotations__", {}))
    defaults = {f: cls.__dict__[f] for f in fields if f in cls.__dict__}
    body = {k: v for k, v in cls.__dict__.items() if k not in _SKIP and k not in fields}
    body.update(__slots__=(), __module__=cls.__module__, __qualname__=cls.__qualname__, _fields=fields,
                _field_defaults=defaults, __match_args__=fields, __new__=_new_for(cls.__name__, fields, defaults),
                _make=classmethod(_make), _replace=_replace, _asdict=_asdict, __getnewargs__=__getnewargs__)
    body.setdefault("__repr__", __repr__)
    for i, f in enumerate(fields):
        body[f] = property(itemgetter(i), doc=f"field {i}")
    return type(cls.__name__, (tuple,), body)
