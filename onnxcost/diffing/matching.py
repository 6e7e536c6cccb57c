"""Which node of report A is which node of report B.

Four passes, each over the rows the previous ones left:

1. by name: rows with the same scope and name (unique on both sides) and the same op type;
2. by name prefix: a row whose name is gone from the other side, and the other side's rows named
   ``<that name>/<suffix>`` (the rewrite passes write ``conv3_1`` as ``conv3_1/dw`` + ``conv3_1/pw``):
   one group, in either direction;
3. by signature: the two topologically ordered sequences of signatures (op type, input and output
   shapes, parameter count) aligned like lines of text (a re-export that renames every node still
   lines up), then the remaining rows of equal signature paired in order (nodes that moved);
4. by position: inside each stretch the alignment left unpaired on both sides, rows of the same op
   type paired in order (a renamed node whose shapes changed).

Whatever is left is removed (A) or added (B). Names an analyser made up for unnamed nodes
(``Conv_12``: op type and row index) are never matched by name: the same made-up name on both sides
says nothing when a node was inserted before it.
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass
from difflib import SequenceMatcher

from ..report import NodeRow, Report

NAME, PREFIX, SIGNATURE, POSITION = "name", "prefix", "signature", "position"


@dataclass(frozen=True)
class Pair:
    """Rows of A paired with rows of B (positions in ``report.nodes``); one row each except for a prefix group."""

    a: tuple[int, ...]
    b: tuple[int, ...]
    how: str  # NAME, PREFIX, SIGNATURE or POSITION


@dataclass
class Matching:
    """The pairs in A's row order, and the rows of A (removed) and of B (added) that have no partner."""

    pairs: list[Pair]
    removed: list[int]
    added: list[int]
    rough: bool = False  # the graphs' orders differ in more than MAX_EDITS places: a rough alignment was used


def match(a: Report, b: Report) -> Matching:
    """Pair the rows of ``a`` with the rows of ``b`` (see the module's docstring for how)."""
    rows_a, rows_b = a.nodes, b.nodes
    pairs = _by_name(rows_a, rows_b)
    free_a = set(range(len(rows_a))) - {i for p in pairs for i in p.a}
    free_b = set(range(len(rows_b))) - {j for p in pairs for j in p.b}
    for pair in _by_prefix(rows_a, rows_b, free_a, free_b):
        pairs.append(pair)
        free_a.difference_update(pair.a)
        free_b.difference_update(pair.b)
    left_a, left_b = sorted(free_a), sorted(free_b)
    by_order, exact = _by_signature_and_position(left_a, left_b, _signatures(a, left_a), _signatures(b, left_b))
    pairs += by_order
    paired_a = {i for p in pairs for i in p.a}
    paired_b = {j for p in pairs for j in p.b}
    pairs.sort(key=lambda p: (p.a[0], p.b[0]))
    return Matching(pairs=pairs, removed=[i for i in left_a if i not in paired_a],
                    added=[j for j in left_b if j not in paired_b], rough=not exact)


def made_up_name(row: NodeRow) -> bool:
    """True when the name is the analyser's stand-in for a node without one (op type and row index)."""
    return row.name == f"{row.op_type}_{row.index}"


def _by_name(rows_a: list[NodeRow], rows_b: list[NodeRow]) -> list[Pair]:
    keys_a, keys_b = _unique_names(rows_a), _unique_names(rows_b)
    pairs = []
    for key, i in keys_a.items():
        j = keys_b.get(key)
        if j is not None and (rows_a[i].domain, rows_a[i].op_type) == (rows_b[j].domain, rows_b[j].op_type):
            pairs.append(Pair((i,), (j,), NAME))
    return pairs


def _unique_names(rows: list[NodeRow]) -> dict[tuple[str, str], int]:
    """(scope, name) -> position, for names that occur once and were not made up."""
    seen: dict[tuple[str, str], int] = {}
    twice = set()
    for position, row in enumerate(rows):
        if not row.name or made_up_name(row):
            continue
        key = (row.scope, row.name)
        if key in seen:
            twice.add(key)
        seen[key] = position
    return {key: position for key, position in seen.items() if key not in twice}


def _by_prefix(rows_a: list[NodeRow], rows_b: list[NodeRow], free_a: set[int], free_b: set[int]) -> list[Pair]:
    """A gone node and the other side's new nodes named under it, as one group (A -> B, then B -> A)."""
    forward = _groups(rows_a, rows_b, free_a, free_b)
    taken_a = {i for i, _ in forward}
    taken_b = {j for _, group in forward for j in group}
    backward = _groups(rows_b, rows_a, free_b - taken_b, free_a - taken_a)
    return ([Pair((i,), tuple(group), PREFIX) for i, group in forward]
            + [Pair(tuple(group), (j,), PREFIX) for j, group in backward])


def _groups(rows_one, rows_other, free_one: set[int], free_other: set[int]) -> list[tuple[int, list[int]]]:
    names_other = {(row.scope, row.name) for row in rows_other}
    under: dict[tuple[str, str], list[int]] = defaultdict(list)  # (scope, every '/' prefix of a name) -> rows
    for j in sorted(free_other):
        row = rows_other[j]
        parts = row.name.split("/")
        for cut in range(1, len(parts)):
            under[(row.scope, "/".join(parts[:cut]))].append(j)
    groups, used = [], set()
    # longest names first, so `a/b/dw` goes to a gone `a/b` rather than to a gone `a`
    for i in sorted(free_one, key=lambda i: (-len(rows_one[i].name), i)):
        row = rows_one[i]
        key = (row.scope, row.name)
        if not row.name or made_up_name(row) or key in names_other:
            continue
        group = [j for j in under.get(key, ()) if j not in used]
        if group:
            used.update(group)
            groups.append((i, group))
    return groups


def _signatures(report: Report, positions: list[int]) -> list[tuple]:
    """(domain, op type, input shapes, output shapes, params) of each row at ``positions``; the parameter count
    stands in for the weights' shapes, which a report does not keep."""
    shapes: dict[str, tuple | None] = {t.name: _shape(t.shape) for t in report.model.inputs}
    for row in report.nodes:
        shapes.update(zip(row.outputs, map(_shape, row.output_shapes)))
    signatures = []
    for position in positions:
        row = report.nodes[position]
        signatures.append((row.domain, row.op_type, tuple(shapes.get(name) if name else "" for name in row.inputs),
                           tuple(map(_shape, row.output_shapes)), row.params))
    return signatures


def _shape(shape: list[int] | None) -> tuple | None:
    return None if shape is None else tuple(shape)


def _by_signature_and_position(left_a: list[int], left_b: list[int], sig_a: list[tuple],
                               sig_b: list[tuple]) -> tuple[list[Pair], bool]:
    """Passes 3 and 4 over the rows left (positions ``left_a``, ``left_b``); also whether the alignment was exact."""
    aligned, exact = _align(sig_a, sig_b)
    pairs = [Pair((left_a[i],), (left_b[j],), SIGNATURE) for i, j in aligned]
    done_a, done_b = {i for i, _ in aligned}, {j for _, j in aligned}

    waiting: dict[tuple, deque[int]] = defaultdict(deque)  # equal signatures out of order: nodes that moved
    for i, signature in enumerate(sig_a):
        if i not in done_a:
            waiting[signature].append(i)
    for j, signature in enumerate(sig_b):
        if j not in done_b and waiting[signature]:
            i = waiting[signature].popleft()
            pairs.append(Pair((left_a[i],), (left_b[j],), SIGNATURE))
            done_a.add(i)
            done_b.add(j)

    for gap_a, gap_b in _gaps(aligned, len(sig_a), len(sig_b)):
        rest_a = [i for i in gap_a if i not in done_a]
        rest_b = [j for j in gap_b if j not in done_b]
        if not rest_a or not rest_b:
            continue
        same_op, exact_here = _align([sig_a[i][:2] for i in rest_a], [sig_b[j][:2] for j in rest_b])
        exact = exact and exact_here
        pairs += [Pair((left_a[rest_a[i]],), (left_b[rest_b[j]],), POSITION) for i, j in same_op]
    return pairs, exact


def _align(x: list, y: list) -> tuple[list[tuple[int, int]], bool]:
    """Index pairs of a longest common subsequence of ``x`` and ``y`` in order, and whether it is one: past
    ``MAX_EDITS`` insertions and deletions the pairs are difflib's rough ones (popular items ignored).

    The common head and tail are taken first; the rest is Myers' O((N+M)·D) diff, fast when the sequences
    differ in few places (a re-export, a rewrite of some layers), whatever their length."""
    n, m = len(x), len(y)
    head = 0
    while head < min(n, m) and x[head] == y[head]:
        head += 1
    tail = 0
    while tail < min(n, m) - head and x[n - 1 - tail] == y[m - 1 - tail]:
        tail += 1
    middle_x, middle_y = x[head:n - tail], y[head:m - tail]
    middle = _myers(middle_x, middle_y, MAX_EDITS)
    exact = middle is not None
    if middle is None:
        matcher = SequenceMatcher(None, middle_x, middle_y, autojunk=True)
        middle = [(b.a + k, b.b + k) for b in matcher.get_matching_blocks() for k in range(b.size)]
    pairs = [(k, k) for k in range(head)] + [(head + i, head + j) for i, j in middle]
    pairs += [(n - tail + k, m - tail + k) for k in range(tail)]
    return pairs, exact


MAX_EDITS = 2000  # Myers' work and memory grow with the square of the edits: beyond this, difflib's rough pairs


def _myers(x: list, y: list, max_edits: int) -> list[tuple[int, int]] | None:
    """The pairs of a longest common subsequence by Myers' greedy algorithm; None past ``max_edits`` edits."""
    n, m = len(x), len(y)
    furthest = {1: 0}  # diagonal k = i - j -> furthest i reached on it
    trace = []
    for d in range(min(max_edits, n + m) + 1):
        trace.append(furthest.copy())
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and furthest[k - 1] < furthest[k + 1]):
                i = furthest[k + 1]  # a step down: an item of y inserted
            else:
                i = furthest[k - 1] + 1  # a step right: an item of x deleted
            j = i - k
            while i < n and j < m and x[i] == y[j]:
                i, j = i + 1, j + 1
            furthest[k] = i
            if i >= n and j >= m:
                return _backtrack(trace, n, m)
    return None


def _backtrack(trace: list[dict[int, int]], i: int, j: int) -> list[tuple[int, int]]:
    pairs = []
    for d in range(len(trace) - 1, -1, -1):
        before = trace[d]
        k = i - j
        previous_k = k + 1 if k == -d or (k != d and before[k - 1] < before[k + 1]) else k - 1
        previous_i = before[previous_k]
        previous_j = previous_i - previous_k
        while i > previous_i and j > previous_j:  # the diagonal run after the edit
            i, j = i - 1, j - 1
            pairs.append((i, j))
        i, j = previous_i, previous_j
    pairs.reverse()
    return pairs


def _gaps(aligned: list[tuple[int, int]], n: int, m: int):
    """The stretches (range in A, range in B) between consecutive aligned pairs."""
    previous_i, previous_j = -1, -1
    for i, j in [*aligned, (n, m)]:
        if i > previous_i + 1 or j > previous_j + 1:
            yield range(previous_i + 1, i), range(previous_j + 1, j)
        previous_i, previous_j = i, j
