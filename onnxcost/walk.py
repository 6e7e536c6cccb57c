"""Walking a model's protobuf: subgraphs of control-flow nodes and every stored tensor."""

from __future__ import annotations

from collections.abc import Iterator

import onnx
from onnx import AttributeProto

_GRAPH, _GRAPHS = AttributeProto.GRAPH, AttributeProto.GRAPHS
_TENSOR, _TENSORS = AttributeProto.TENSOR, AttributeProto.TENSORS


def subgraphs(node: onnx.NodeProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """(attribute name, graph) for each graph attribute of ``node`` (If branches, Loop/Scan bodies)."""
    for attr in node.attribute:
        if attr.type == AttributeProto.GRAPH:
            yield attr.name, attr.g
        elif attr.type == AttributeProto.GRAPHS:
            for index, graph in enumerate(attr.graphs):
                yield f"{attr.name}[{index}]", graph


def has_subgraphs(node: onnx.NodeProto) -> bool:
    """Whether ``node`` holds a graph attribute (the test ``subgraphs`` makes, without a generator per node)."""
    for attr in node.attribute:
        if attr.type == _GRAPH or attr.type == _GRAPHS:
            return True
    return False


class NodeTable:
    """The nodes of one graph and their fields, each read from the protobuf once: every read of a field makes new
    Python objects, and the checks, the shape layout and the walk all want the same fields. ``fields[i]`` is
    (op_type, domain, name, inputs, outputs) of ``nodes[i]``, inputs with "" for a skipped optional one."""

    def __init__(self, graph: onnx.GraphProto):
        self.nodes = list(graph.node)
        self.fields = [(n.op_type, n.domain, n.name, list(n.input), list(n.output)) for n in self.nodes]
        self.in_order: bool | None = None  # whether the nodes are stored in execution order, once a sort found out

    def aligned(self, ordered: list[onnx.NodeProto]) -> list[tuple]:
        """The fields of ``ordered`` (this table's nodes, in another order or the same)."""
        if ordered is self.nodes:
            return self.fields
        position = {id(node): index for index, node in enumerate(self.nodes)}  # the nodes are alive: ids are unique
        return [self.fields[position[id(node)]] for node in ordered]


def nests(graph: onnx.GraphProto) -> bool:
    """Whether any node of ``graph`` holds a graph attribute: one walk, after which ``graphs(..., nested=False)`` and
    the per-node tests of a flat model (most models) cost nothing."""
    return any(has_subgraphs(node) for node in graph.node)


def graphs(graph: onnx.GraphProto, nested: bool = True) -> Iterator[onnx.GraphProto]:
    """``graph`` and all graphs nested in it, outermost first. ``nested=False``: the caller knows there are none
    (``nests``), and ``graph`` alone is yielded without reading a node."""
    if not nested:
        yield graph
        return
    stack = [graph]
    while stack:
        current = stack.pop()
        yield current
        # Inline rather than through subgraphs(): this runs over every node of the model, several times per report.
        for node in current.node:
            for attr in node.attribute:
                if attr.type == _GRAPH:
                    stack.append(attr.g)
                elif attr.type == _GRAPHS:
                    stack.extend(attr.graphs)


def tensors(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    """Every TensorProto the model stores: initializers and tensor attributes, in all graphs and functions."""
    return graphs_and_tensors(model)[1]


def graphs_and_tensors(model: onnx.ModelProto) -> tuple[list[onnx.GraphProto], list[onnx.TensorProto]]:
    """The main graph and every graph nested in it or in the model's local functions, and every tensor the model
    stores (``tensors``), in one walk over the nodes' attributes (loading asks for both)."""
    found_graphs: list[onnx.GraphProto] = []
    stored: list[onnx.TensorProto] = []
    stack = [model.graph]
    nodes = [node for function in model.functions for node in function.node]  # their tensors and subgraphs
    while stack or nodes:
        if stack:
            graph = stack.pop()
            found_graphs.append(graph)
            stored.extend(graph.initializer)
            stored.extend(sparse.values for sparse in graph.sparse_initializer)
            chosen = graph.node
        else:
            chosen, nodes = nodes, []
        for node in chosen:
            for attr in node.attribute:
                kind = attr.type
                if kind == _GRAPH:
                    stack.append(attr.g)
                elif kind == _GRAPHS:
                    stack.extend(attr.graphs)
                elif kind == _TENSOR:
                    stored.append(attr.t)
                elif kind == _TENSORS:
                    stored.extend(attr.tensors)
    return found_graphs, stored
