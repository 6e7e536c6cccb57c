"""Graph structure: topological order and the ONNX rules a cost walk relies on.

ONNX requires nodes in topological order but some exporters break it; we sort
(stably, so a well-ordered graph keeps its order) and refuse what cannot be
sorted: cycles, inputs nothing produces, names produced twice.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import onnx

from . import walk
from .errors import InvalidModelError, first_line
from .tensors import numel


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


def node_inputs(node: onnx.NodeProto, nested: bool = True) -> list[str]:
    """Explicit inputs plus the implicit ones of subgraphs (``nested=False``: the graph has none, ``walk.nests``)."""
    names = [name for name in node.input if name]
    if nested and walk.has_subgraphs(node):
        names.extend(sorted(outer_references(node) - set(names)))
    return names


def topological_order(
    graph: onnx.GraphProto, outer: Iterable[str] = (), where: str = "graph", nested: bool = True,
    table: walk.NodeTable | None = None,
) -> list[onnx.NodeProto]:
    """Nodes of ``graph`` in a valid execution order, original order kept where possible (``nested=False``: no node
    of ``graph`` holds a subgraph, ``walk.nests``). ``table``: the graph's ``walk.NodeTable`` (``nested`` False);
    a graph already in order is then returned as ``table.nodes`` itself."""
    table = table if table is not None and not nested else None
    nodes = table.nodes if table is not None else list(graph.node)
    local = defined_names(graph)
    available = set(outer) | local
    producer: dict[str, int] = {}
    if table is not None:
        outputs = [fields[4] for fields in table.fields]
    else:
        outputs = [list(node.output) for node in nodes]
    for index, names in enumerate(outputs):
        for name in names:
            if not name:
                continue
            if name in producer or name in local:
                raise InvalidModelError(f"{where}: tensor '{name}' is produced twice (node {_label(nodes[index], index)})")
            producer[name] = index
    if table is not None:
        inputs = [[name for name in fields[3] if name] for fields in table.fields]
    else:
        inputs = [node_inputs(node, nested) for node in nodes]
    for index, names in enumerate(inputs):
        for name in names:
            if name not in producer and name not in available:
                raise InvalidModelError(
                    f"{where}: node {_label(nodes[index], index)} reads '{name}', which no node, input or initializer defines"
                )
    in_order = _already_sorted(inputs, producer)
    if table is not None:
        table.in_order = in_order
    if in_order:
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
    import networkx as nx  # only on this error path: it costs every run ~0.1 s of start-up

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


# Domains whose operator schemas the installed onnx knows; nodes of other domains are costed if a
# rule exists and otherwise listed, never rejected.
CHECKED_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
MAX_ELEMENTS = 2**63 - 1


def check_model(model: onnx.ModelProto, nested: bool | None = None,
                table: walk.NodeTable | None = None) -> list[onnx.NodeProto]:
    """Refuse what no runtime would load: unknown opset versions, nodes that break their
    operator's schema, unsortable graphs and initializers of impossible dimensions. Runs before shape inference,
    on the skeleton; the inputs' dimensions are checked after the user's overrides (shapes.resolve_shapes).
    Returns the main graph's nodes in execution order (``topological_order``). ``nested``: ``walk.nests`` of the
    main graph, when the caller knows it; ``table``: the main graph's ``walk.NodeTable``, when it has one."""
    if model.ir_version < 0:
        raise InvalidModelError(f"the model declares IR version {model.ir_version}, which is no version")
    if model.ir_version > onnx.IR_VERSION:
        raise InvalidModelError(f"the model declares IR version {model.ir_version}; the installed onnx {onnx.__version__} "
                                f"knows up to {onnx.IR_VERSION} (upgrade onnx)")
    known = onnx.defs.onnx_opset_version()
    opsets = {}
    for opset in model.opset_import:
        domain = "" if opset.domain == "ai.onnx" else opset.domain
        opsets[domain] = opset.version
        if domain == "" and opset.version > known:
            raise InvalidModelError(
                f"the model uses opset {opset.version} of ai.onnx; the installed onnx {onnx.__version__} knows up to "
                f"{known} (upgrade onnx)"
            )
    context = onnx.checker.C.CheckerContext()
    context.ir_version = model.ir_version or onnx.IR_VERSION
    context.opset_imports = opsets
    if nested is None:
        nested = walk.nests(model.graph)
    for graph in walk.graphs(model.graph, nested):
        nodes = table.nodes if table is not None and graph is model.graph else graph.node
        for index, node in enumerate(nodes):
            _check_node(node, index, context, opsets, nested)
    order = _check_order(model.graph, set(), nested, table)
    _check_dims(model.graph, nested)
    return order


def _check_node(node: onnx.NodeProto, index: int, context, opsets: dict[str, int], nested: bool) -> None:
    if node.domain not in CHECKED_DOMAINS:
        return
    domain = "" if node.domain == "ai.onnx" else node.domain
    if domain not in opsets:  # onnx.checker and onnxruntime refuse it: no operator set says what the op means
        raise InvalidModelError(f"node {_label(node, index)}: the model imports no opset of domain "
                                f"'{domain or 'ai.onnx'}'")
    if nested and walk.has_subgraphs(node):
        return  # the checker would check the subgraph without its outer scope; its nodes are checked one by one
    try:
        onnx.checker.check_node(node, context)
    except Exception as exc:  # the checker's C++ side raises several types, including decode errors
        raise InvalidModelError(f"node {_label(node, index)}: {first_line(exc)}") from exc


def _check_order(graph: onnx.GraphProto, outer: set[str], nested: bool = True,
                 table: walk.NodeTable | None = None) -> list[onnx.NodeProto]:
    nodes = topological_order(graph, outer, where=f"subgraph '{graph.name}'" if outer else "graph", nested=nested,
                              table=table)
    if not nested:
        return nodes
    visible = outer | defined_names(graph) | {out for node in nodes for out in node.output}
    for node in nodes:
        for _, sub in walk.subgraphs(node):
            _check_order(sub, visible)
    return nodes


def _check_dims(graph: onnx.GraphProto, nested: bool = True) -> None:
    """Initializers' dimensions. Inputs are checked by shapes.resolve_shapes once the user's overrides are applied:
    a zero dimension is legal there (an empty tensor) and a negative one a free dimension (skeleton.name_free_dims)."""
    for sub in walk.graphs(graph, nested):
        for tensor in sub.initializer:
            dims = tensor.dims  # read once; min() and the count in C, the message only for a tensor refused
            if dims and min(dims) < 0:
                raise InvalidModelError(f"initializer '{tensor.name}' has a negative dimension")
            if numel(dims) > MAX_ELEMENTS:
                check_count(f"initializer '{tensor.name}'", dims)


def check_count(what: str, dims) -> None:
    """Refuse a shape ``dims`` (known, non-negative) whose element count a 64-bit size cannot hold."""
    count = numel(dims)
    if count > MAX_ELEMENTS:
        raise InvalidModelError(f"{what} claims {count} elements, more than a 64-bit size can hold")
