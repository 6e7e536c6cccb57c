"""Exact integer polynomials in a model's free dimensions, with floor divisions kept as atoms.

A ``Poly`` is a sum of integer-coefficient monomials over *atoms*: a dimension's name (``batch``) or a floor
division ``Floor(p, d)`` of a polynomial by a positive integer, which is how a strided conv's output size is written
(``floor((H - 1)/2) + 1``). Arithmetic (+, -, *, ** by an integer, // and % by a positive integer or by a single
term that divides exactly) returns a plain ``int`` whenever the result is constant, so code that only ever sees
bound dimensions never meets a ``Poly``. Comparisons and ``int()`` of a non-constant polynomial raise ``TypeError``:
the caller learns the value depends on the dimensions instead of getting a guess.

``str(p)`` is the machine grammar (docs/formulas.md): integers, names, ``+ - *``, ``**`` for powers and
``floor(a/b)``; Python and sympy both read it, and ``parse`` reads it back exactly. ``human(p)`` is the terminal's
form: ``15.47 G·N``, ``⌊(H − 1)/2⌋``.
"""

from __future__ import annotations

import ast
import functools
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..units import human_count


@dataclass(frozen=True)
class Floor:
    """floor(num / den): ``num`` a Poly whose coefficients and ``den`` have no common factor, den >= 2."""

    num: Poly
    den: int

    def __str__(self) -> str:
        return f"floor(({self.num})/{self.den})"




def _atom_key(atom) -> tuple:
    return (0, atom, "") if isinstance(atom, str) else (1, "", str(atom))


def _monomial_key(monomial: tuple) -> tuple:
    degree = sum(power for _, power in monomial)
    return (-degree, [(_atom_key(a), -p) for a, p in monomial])


class Poly:
    """An exact integer polynomial over named dimensions and floor atoms; immutable, never constant."""

    __slots__ = ("terms", "_hash")

    def __init__(self, terms: dict):
        self.terms = terms  # {monomial: coefficient}; a monomial is a sorted tuple of (atom, power); () is 1
        self._hash = None

    # --- construction -------------------------------------------------------

    @staticmethod
    def symbol(name: str) -> Poly:
        """The polynomial ``name``."""
        return Poly({((name, 1),): 1})

    @staticmethod
    def _make(terms: dict) -> Poly | int:
        terms = {m: c for m, c in terms.items() if c}
        if not terms:
            return 0
        if len(terms) == 1 and () in terms:
            return terms[()]
        return Poly(terms)

    @staticmethod
    def _terms(value) -> dict:
        if isinstance(value, Poly):
            return value.terms
        if isinstance(value, bool) or not isinstance(value, int):
            value = _as_int(value)
        return {(): value} if value else {}

    # --- arithmetic ---------------------------------------------------------

    def __add__(self, other):
        if type(other) is int:  # the common case (a constant offset), without the general merge
            if not other:
                return self
            terms = dict(self.terms)
            terms[()] = terms.get((), 0) + other
            return Poly._make(terms) if not terms[()] else Poly(terms)
        try:
            other_terms = Poly._terms(other)
        except TypeError:
            return NotImplemented
        terms = dict(self.terms)
        for m, c in other_terms.items():
            terms[m] = terms.get(m, 0) + c
        return Poly._make(terms)

    __radd__ = __add__

    def __neg__(self):
        return Poly({m: -c for m, c in self.terms.items()})

    def __sub__(self, other):
        try:
            return self + (-other if isinstance(other, Poly) else -_as_int(other))
        except TypeError:
            return NotImplemented

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        if type(other) is int:  # scaling: no monomial changes
            return Poly({m: c * other for m, c in self.terms.items()}) if other else 0
        try:
            other_terms = Poly._terms(other)
        except TypeError:
            return NotImplemented
        terms: dict = {}
        for (m1, c1), (m2, c2) in itertools.product(self.terms.items(), other_terms.items()):
            m = _multiply(m1, m2)
            terms[m] = terms.get(m, 0) + c1 * c2
        return Poly._make(terms)

    __rmul__ = __mul__

    def __pow__(self, power: int):
        if not isinstance(power, int) or power < 0:
            return NotImplemented
        result: Poly | int = 1
        for _ in range(power):
            result = result * self
        return result

    def __floordiv__(self, other):
        return floor_div(self, other)

    def __rfloordiv__(self, other):
        raise TypeError(f"{other} // ({self}): division by a dimension")

    def __mod__(self, other):
        return self - floor_div(self, other) * other

    def __truediv__(self, other):
        raise TypeError(f"({self}) / {other}: true division of a dimension (use //)")

    # --- what a non-constant polynomial cannot be ---------------------------

    def __int__(self):  # tried on every dimension of every shape (tensors.numel): a message without formatting
        raise TypeError("a size that depends on the model's free dimensions")

    __index__ = __int__

    def __bool__(self):
        raise TypeError(f"the truth of {self} depends on the model's free dimensions")

    def _compare(self, other):
        raise TypeError(f"comparing {self} with {other}: it depends on the model's free dimensions")

    __lt__ = __le__ = __gt__ = __ge__ = _compare

    def __eq__(self, other):
        return isinstance(other, Poly) and self.terms == other.terms

    def __hash__(self):
        if self._hash is None:
            self._hash = hash(frozenset(self.terms.items()))
        return self._hash

    # --- reading ------------------------------------------------------------

    def symbols(self) -> set[str]:
        """The dimension names it depends on (inside floor atoms too)."""
        found: set[str] = set()
        for monomial in self.terms:
            for atom, _ in monomial:
                found.update([atom] if isinstance(atom, str) else atom.num.symbols())
        return found

    def at(self, dims: Mapping[str, int]) -> int:
        """Its value with every dimension bound (KeyError names one that is not)."""
        return evaluate(self, dims)

    def __str__(self) -> str:
        return _format(self, _machine_term)

    def __repr__(self) -> str:
        return f"Poly({self})"


def total(values) -> Poly | int:
    """The sum of ints and polynomials, merged into one polynomial at the end (not one new one per addition)."""
    counts: dict = {}  # a model repeats its blocks: the same polynomials recur, each is merged once
    constant = 0
    for value in values:
        if type(value) is int:
            constant += value
        else:
            counts[value] = counts.get(value, 0) + 1
    terms: dict = {}
    for value, count in counts.items():
        for m, c in value.terms.items():
            terms[m] = terms.get(m, 0) + c * count
    if constant:
        terms[()] = terms.get((), 0) + constant
    return Poly._make(terms)


def identifier(name: str) -> str:
    """A dimension's name as formulas write it: characters other than letters, digits and _ become _ (and a leading
    digit gets a _ before it), so that Python, sympy and ``report.at(name=...)`` read it: ``p2o.DynamicDimension.0``
    is ``p2o_DynamicDimension_0``."""
    cleaned = re.sub(r"\W", "_", name)
    return "_" + cleaned if not cleaned or cleaned[0].isdigit() else cleaned


def _as_int(value) -> int:
    if hasattr(value, "dtype") and getattr(value.dtype, "kind", "") in "iub":  # numpy integers
        return int(value)
    if isinstance(value, int):
        return int(value)
    raise TypeError(f"{value!r} is not an integer")


@functools.lru_cache(maxsize=1 << 14)
def _multiply(m1: tuple, m2: tuple) -> tuple:
    if not m1:
        return m2
    if not m2:
        return m1
    powers = dict(m1)
    for atom, power in m2:
        powers[atom] = powers.get(atom, 0) + power
    return tuple(sorted(powers.items(), key=lambda item: _atom_key(item[0])))


def _content(terms: Mapping) -> int:
    return math.gcd(*terms.values()) if terms else 0


def floor_div(value, divisor):
    """floor(value / divisor) for a positive integer divisor (exact splitting: the part of ``value`` divisible by it
    leaves the floor), or for a single-term polynomial divisor that divides ``value`` exactly; TypeError otherwise."""
    if isinstance(divisor, Poly):
        return _divide_exactly(value, divisor)
    divisor = _as_int(divisor)
    if not isinstance(value, Poly):
        return _as_int(value) // divisor
    if divisor <= 0:
        raise TypeError(f"({value}) // {divisor}: only positive divisors keep a polynomial's floor exact")
    if divisor == 1:
        return value
    quotient: dict = {}
    rest: dict = {}
    for m, c in value.terms.items():
        if m and c % divisor == 0:
            quotient[m] = c // divisor
        elif m:
            rest[m] = c
    constant = value.terms.get((), 0)
    if not rest:
        return Poly._make(quotient) + constant // divisor
    quotient_of_constant, constant = divmod(constant, divisor)
    # floor((g·r + c)/(g·d')) with g dividing every coefficient of r and c: the common factor leaves the floor
    common = math.gcd(_content(rest), constant, divisor)
    rest = {m: c // common for m, c in rest.items()}
    if constant // common:
        rest[()] = constant // common
    atom = Floor(Poly(rest), divisor // common)
    return Poly._make(quotient) + quotient_of_constant + Poly({((atom, 1),): 1})


def _divide_exactly(value, divisor: Poly):
    if len(divisor.terms) != 1:
        raise TypeError(f"({value}) // ({divisor}): division by a sum of terms")
    (monomial, coefficient), = divisor.terms.items()
    powers = dict(monomial)
    quotient: dict = {}
    for m, c in Poly._terms(value).items():
        remaining = dict(m)
        for atom, power in powers.items():
            if remaining.get(atom, 0) < power:
                raise TypeError(f"({value}) is not a multiple of ({divisor})")
            remaining[atom] -= power
        if c % coefficient:
            raise TypeError(f"({value}) is not a multiple of ({divisor})")
        key = tuple(sorted(((a, p) for a, p in remaining.items() if p), key=lambda item: _atom_key(item[0])))
        quotient[key] = c // coefficient
    return Poly._make(quotient)


def evaluate(value, dims: Mapping[str, int]) -> int:
    """The integer ``value`` (an int or a Poly) takes with ``dims`` bound."""
    if not isinstance(value, Poly):
        return value
    total = 0
    for monomial, coefficient in value.terms.items():
        product = coefficient
        for atom, power in monomial:
            base = dims[atom] if isinstance(atom, str) else evaluate(atom.num, dims) // atom.den
            product *= base ** power
        total += product
    return total


# --- printing ---------------------------------------------------------------

def _format(value, term) -> str:
    if not isinstance(value, Poly):
        return str(value)
    ordered = sorted(value.terms.items(), key=lambda item: _monomial_key(item[0]))
    text = ""
    for index, (monomial, coefficient) in enumerate(ordered):
        body = term(monomial, abs(coefficient))
        if index == 0:
            text = ("-" if coefficient < 0 else "") + body
        else:
            text += (" - " if coefficient < 0 else " + ") + body
    return text


def _machine_atom(atom) -> str:
    return atom if isinstance(atom, str) else str(atom)


def _machine_term(monomial: tuple, coefficient: int) -> str:
    factors = [_machine_atom(a) + (f"**{p}" if p > 1 else "") for a, p in monomial]
    if coefficient != 1 or not factors:
        factors.insert(0, str(coefficient))
    return "*".join(factors)


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _human_atom(atom) -> str:
    if isinstance(atom, str):
        return atom
    return f"⌊({_format(atom.num, _human_inner_term).replace(' - ', ' − ')})/{atom.den}⌋"


def _human_inner_term(monomial: tuple, coefficient: int) -> str:
    factors = [_human_atom(a) + (str(p).translate(_SUPERSCRIPTS) if p > 1 else "") for a, p in monomial]
    if coefficient != 1 or not factors:
        factors.insert(0, str(coefficient))
    return "·".join(factors)


def _human_term(unit):
    def term(monomial: tuple, coefficient: int) -> str:
        factors = [_human_atom(a) + (str(p).translate(_SUPERSCRIPTS) if p > 1 else "") for a, p in monomial]
        if coefficient != 1 or not factors:
            factors.insert(0, unit(coefficient))
        return "·".join(factors)
    return term


def human(value, unit=human_count) -> str:
    """The terminal's form: coefficients in human units (``unit``), ``·`` between factors, superscript powers and
    ``⌊…⌋`` floors: ``15.47 G·N``, ``37.75 M·batch·seq² + 11.6 G·batch·seq``."""
    if not isinstance(value, Poly):
        return unit(value)
    return _format(value, _human_term(unit)).replace(" - ", " − ")


# --- parsing ------------------------------------------------------------------

def parse(text: str) -> Poly | int:
    """The value of a ``str(Poly)`` string (the grammar of docs/formulas.md); ValueError for anything else."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"'{text}' is not a formula: {exc.msg}") from None
    return _parse_node(tree.body, text)


def _parse_node(node, text: str):
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.Name):
        return Poly.symbol(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_parse_node(node.operand, text)
    if isinstance(node, ast.BinOp):
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant):
            return _parse_node(node.left, text) ** node.right.value
        left, right = _parse_node(node.left, text), _parse_node(node.right, text)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.FloorDiv):
            return floor_div(left, right)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "floor"
            and len(node.args) == 1 and isinstance(node.args[0], ast.BinOp) and isinstance(node.args[0].op, ast.Div)):
        return floor_div(_parse_node(node.args[0].left, text), _parse_node(node.args[0].right, text))
    raise ValueError(f"'{text}' is not a formula of integers, names, + - * **, and floor(a/b)")


# --- ranges -------------------------------------------------------------------

BRUTE_FORCE_POINTS = 1 << 16  # boxes with at most this many points are evaluated at every point


def value_range(value, ranges: Mapping[str, tuple[int, int]], fixed: Mapping[str, int]) -> tuple[int, int, bool]:
    """(min, max, exact) of ``value`` over every integer point of ``ranges`` (name -> (low, high)), the other
    dimensions bound by ``fixed``. Exact when the polynomial is non-decreasing in each ranged dimension (every
    non-constant term positive: the ends give min and max) or when the box is small enough to visit every point;
    else the ends' values widened by interval arithmetic (a bound, ``exact`` False)."""
    if not isinstance(value, Poly):
        return value, value, True
    names = sorted(n for n in ranges if n in value.symbols())
    if not names:
        point = evaluate(value, fixed)
        return point, point, True
    if non_decreasing(value):
        low = evaluate(value, {**fixed, **{n: ranges[n][0] for n in names}})
        high = evaluate(value, {**fixed, **{n: ranges[n][1] for n in names}})
        return low, high, True
    if math.prod(ranges[n][1] - ranges[n][0] + 1 for n in names) <= BRUTE_FORCE_POINTS:
        points = [evaluate(value, {**fixed, **dict(zip(names, point))})
                  for point in itertools.product(*(range(ranges[n][0], ranges[n][1] + 1) for n in names))]
        return min(points), max(points), True
    low, high = _interval(value, {**{n: (v, v) for n, v in fixed.items()}, **{n: ranges[n] for n in names}})
    return low, high, False


def non_decreasing(value) -> bool:
    """Whether every non-constant term is positive (and every floor's numerator too): non-decreasing in every
    dimension, as dimensions are non-negative."""
    if not isinstance(value, Poly):
        return True
    for monomial, coefficient in value.terms.items():
        if monomial and coefficient < 0:
            return False
        if any(not isinstance(atom, str) and not non_decreasing(atom.num) for atom, _ in monomial):
            return False
    return True


def _interval(value, boxes: Mapping[str, tuple[int, int]]) -> tuple[int, int]:
    if not isinstance(value, Poly):
        return value, value
    low = high = 0
    for monomial, coefficient in value.terms.items():
        lo, hi = coefficient, coefficient
        for atom, power in monomial:
            if isinstance(atom, str):
                a, b = boxes[atom]
            else:
                n_lo, n_hi = _interval(atom.num, boxes)
                a, b = n_lo // atom.den, n_hi // atom.den
            candidates = [x ** power for x in (a, b)] + ([0] if a < 0 < b and power % 2 == 0 else [])
            a, b = min(candidates), max(candidates)
            products = [lo * a, lo * b, hi * a, hi * b]
            lo, hi = min(products), max(products)
        low, high = low + lo, high + hi
    return low, high
