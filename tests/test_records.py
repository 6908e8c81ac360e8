"""records.record behaves like typing.NamedTuple for everything the code base uses."""

import copy
from typing import NamedTuple

import pytest

from xstatecalc.records import record


@record
class Point:
    """A point."""

    x: int
    y: int = 0
    tag: str = "p"

    def norm1(self) -> int:
        return abs(self.x) + abs(self.y)


class Twin(NamedTuple):
    x: int
    y: int = 0
    tag: str = "p"


def test_same_behaviour_as_namedtuple():
    p, t = Point(1, 2), Twin(1, 2)
    assert p == t and hash(p) == hash(t) and tuple(p) == (1, 2, "p")
    assert p._fields == t._fields and p._field_defaults == t._field_defaults
    assert repr(p) == "Point(x=1, y=2, tag='p')" and p._asdict() == t._asdict()
    assert p._replace(y=5) == Point(1, 5) and isinstance(p._replace(y=5), Point)
    assert Point._make([3, 4, "q"]) == Point(x=3, y=4, tag="q")
    assert Point(x=1) == Point(1, 0, "p") and p.norm1() == 3 and Point.__doc__ == "A point."
    assert copy.deepcopy(p) == p and type(copy.deepcopy(p)) is Point
    x, y, tag = p
    assert (x, y, tag) == (1, 2, "p") and Point.__match_args__ == ("x", "y", "tag")


@pytest.mark.parametrize("make", [lambda: Point(), lambda: Point(1, 2, "t", 4), lambda: Point(1, z=3),
                                  lambda: Point(1, x=2), lambda: Point._make([1])])
def test_wrong_arguments_are_type_errors(make):
    with pytest.raises(TypeError):
        make()


def test_replace_unknown_field():
    with pytest.raises(ValueError):
        Point(1)._replace(z=1)


def test_immutable():
    with pytest.raises(AttributeError):
        Point(1).x = 2
