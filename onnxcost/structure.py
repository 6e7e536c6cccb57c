"""Graph structure: topological order and the ONNX rules a cost walk relies on.

ONNX requires nodes in topological order but some exporters break it; we sort
(stably, so a well-ordered graph keeps its order) and refuse what cannot be
sorted: cycles, inputs nothing produces, names produced twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import networkx as nx
import onnx

from . import walk
from .errors import InvalidModelError


def defined_names(graph: onnx.GraphProto) -> set[str]:
    """Names a graph defines before any node runs: its inputs and initializers."""
    names = {value.name for value in graph.input}
    names.update(t.name for t in graph.initializer)
    names.update(s.values.name for s in graph.sparse_initializer)
    return names


def outer_references(node: onnx.NodeProto) -> set[str]:
    """Names a control-flow node's subgraphs read from enclosing scopes (implicit inputs)."""
    used: set[str] = set()
    for _, sub in walk.subgraphs(node):
        local = defined_names(sub)
        for inner in sub.node:
            local.update(inner.output)
        for inner in sub.node:
            used.update(name for name in inner.input if name and name not in local)
            used.update(outer_references(inner) - local)
        used.update(out.name for out in sub.output if out.name not in local)
    return used


def node_inputs(node: onnx.NodeProto) -> list[str]:
    """Explicit inputs plus the implicit ones of subgraphs."""
    names = [name for name in node.input if name]
    if node.attribute:
        names.extend(sorted(outer_references(node) - set(names)))
    return names


def topological_order(
    graph: onnx.GraphProto, outer: Iterable[str] = (), where: str = "graph"
) -> list[onnx.NodeProto]:
    """Nodes of ``graph`` in a valid execution order, original order kept where possible."""
    nodes = list(graph.node)
    local = defined_names(graph)
    available = set(outer) | local
    producer: dict[str, int] = {}
    for index, node in enumerate(nodes):
        for name in node.output:
            if not name:
                continue
            if name in producer or name in local:
                raise InvalidModelError(f"{where}: tensor '{name}' is produced twice (node {_label(node, index)})")
            producer[name] = index
    inputs = [node_inputs(node) for node in nodes]
    for index, names in enumerate(inputs):
        for name in names:
            if name not in producer and name not in available:
                raise InvalidModelError(
                    f"{where}: node {_label(nodes[index], index)} reads '{name}', which no node, input or initializer defines"
                )
    if _already_sorted(inputs, producer):
        return nodes
    waiting = [sum(1 for name in set(names) if name in producer) for names in inputs]
    consumers: dict[int, list[int]] = {}
    for index, names in enumerate(inputs):
        for name in set(names):
            if name in producer:
                consumers.setdefault(producer[name], []).append(index)
    ready = [index for index, count in enumerate(waiting) if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for consumer in consumers.get(index, ()):
            waiting[consumer] -= 1
            if waiting[consumer] == 0:
                heapq.heappush(ready, consumer)
    if len(order) != len(nodes):
        raise InvalidModelError(f"{where}: the graph has a cycle ({_describe_cycle(nodes, inputs, producer)})")
    return [nodes[index] for index in order]


def _already_sorted(inputs: list[list[str]], producer: dict[str, int]) -> bool:
    return all(producer.get(name, -1) < index for index, names in enumerate(inputs) for name in names)


def _describe_cycle(nodes: list[onnx.NodeProto], inputs: list[list[str]], producer: dict[str, int]) -> str:
    digraph = nx.DiGraph()
    for index, names in enumerate(inputs):
        for name in names:
            if name in producer:
                digraph.add_edge(producer[name], index)
    try:
        cycle = nx.find_cycle(digraph)
    except nx.NetworkXNoCycle:  # pragma: no cover - Kahn's sort already found one
        return "unsortable"
    labels = [_label(nodes[src], src) for src, _ in cycle[:6]]
    return " -> ".join(labels) + (" -> ..." if len(cycle) > 6 else f" -> {labels[0]}")


def _label(node: onnx.NodeProto, index: int) -> str:
    return f"'{node.name}' ({node.op_type})" if node.name else f"#{index} ({node.op_type})"
