"""Arithmetic on named values, for the size rules in userspace_rules.yaml.

A formula is integers, names, + - * and parentheses, and the functions max, min,
align_up(x, a), nonzero_or(a, b) and if_nonzero(x, a, b). It is parsed once by hand
(no eval, no regular expressions) and evaluated against a dict of names. Rules are
data, so a malformed one is reported with the text and the position.
"""

from __future__ import annotations

MAX_FORMULA = 200
_FUNCS = {
    "max": (2, None),
    "min": (2, None),
    "align_up": (2, 2),
    "nonzero_or": (2, 2),
    "if_nonzero": (3, 3),
}


class FormulaError(ValueError):
    """A formula that does not parse, or names something unknown."""


def _tokens(text: str) -> list[tuple[str, str, int]]:
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"{text[:40]!r}...: longer than {MAX_FORMULA} characters")
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == " ":
            i += 1
        elif ch.isascii() and ch.isdigit():
            j = i
            while j < len(text) and text[j].isascii() and text[j].isdigit():
                j += 1
            out.append(("num", text[i:j], i))
            i = j
        elif ch.isascii() and (ch.isalpha() or ch == "_"):
            j = i
            while j < len(text) and text[j].isascii() and (text[j].isalnum() or text[j] == "_"):
                j += 1
            out.append(("name", text[i:j], i))
            i = j
        elif ch in "+-*(),":
            out.append((ch, ch, i))
            i += 1
        else:
            raise FormulaError(f"{text!r}: unexpected {ch!r} at {i}")
    return out


class Formula:
    """A parsed formula: .names it uses, .evaluate(values)."""

    def __init__(self, text: str):
        self.text = str(text)
        self._toks = _tokens(self.text)
        self._pos = 0
        self.names: set[str] = set()
        self._tree = self._expr(0)
        if self._pos != len(self._toks):
            self._fail("unexpected text")

    def _fail(self, what: str):
        at = self._toks[self._pos][2] if self._pos < len(self._toks) else len(self.text)
        raise FormulaError(f"{self.text!r}: {what} at {at}")

    def _peek(self):
        return self._toks[self._pos][0] if self._pos < len(self._toks) else None

    def _take(self, kind: str):
        if self._peek() != kind:
            self._fail(f"expected {kind!r}")
        tok = self._toks[self._pos]
        self._pos += 1
        return tok

    def _expr(self, depth: int):
        if depth > 20:
            self._fail("nested too deeply")
        node = self._term(depth)
        while self._peek() in ("+", "-"):
            op = self._take(self._peek())[0]
            node = (op, node, self._term(depth))
        return node

    def _term(self, depth: int):
        node = self._factor(depth)
        while self._peek() == "*":
            self._take("*")
            node = ("*", node, self._factor(depth))
        return node

    def _factor(self, depth: int):
        kind = self._peek()
        if kind == "num":
            return ("num", int(self._take("num")[1]))
        if kind == "(":
            self._take("(")
            node = self._expr(depth + 1)
            self._take(")")
            return node
        if kind == "name":
            name = self._take("name")[1]
            if self._peek() != "(":
                self.names.add(name)
                return ("name", name)
            if name not in _FUNCS:
                self._fail(f"unknown function {name!r}")
            self._take("(")
            args = [self._expr(depth + 1)]
            while self._peek() == ",":
                self._take(",")
                args.append(self._expr(depth + 1))
            self._take(")")
            low, high = _FUNCS[name]
            if len(args) < low or (high is not None and len(args) > high):
                self._fail(f"{name}() takes {low}{'' if high == low else '+' if high is None else f'-{high}'} arguments")
            return ("call", name, args)
        self._fail("expected a number, a name or '('")

    def evaluate(self, values: dict) -> int:
        return _eval(self._tree, values)


def _eval(node, values: dict) -> int:
    kind = node[0]
    if kind == "num":
        return node[1]
    if kind == "name":
        return values[node[1]]
    if kind == "call":
        name, args = node[1], node[2]
        if name == "if_nonzero":  # only the branch taken is evaluated
            return _eval(args[1] if _eval(args[0], values) else args[2], values)
        vals = [_eval(a, values) for a in args]
        if name == "max":
            return max(vals)
        if name == "min":
            return min(vals)
        if name == "align_up":
            x, a = vals
            return -(-x // a) * a if a > 0 else x
        return vals[0] if vals[0] else vals[1]  # nonzero_or
    a, b = _eval(node[1], values), _eval(node[2], values)
    return a + b if kind == "+" else a - b if kind == "-" else a * b
