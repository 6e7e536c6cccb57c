"""Imported by the fork server that worker processes are forked from, and by nothing else: it makes the server
hold what every worker would otherwise redo before its model.

1. The caller's main module. multiprocessing re-runs it in every spawn and forkserver child (so that functions
   defined there can be unpickled): for the ``onnxcost`` console script that imports the CLI (typer, rich), in
   a Ray worker it imports Ray: 0.1 to 0.5 s per model. It means to do this once in the fork server ("__main__"
   in the preload list), but up to at least Python 3.13 the server is never given the main module's path (it
   looks for a 'main_path' key that ``spawn.get_preparation_data`` does not write). ``processes._context`` puts
   the path in ``processes.MAIN_PATH_VARIABLE`` while it starts the server; it is imported here the way multiprocessing
   would, and the workers then find it in place and skip it.
2. A first analysis of a tiny model: onnx builds its operator schemas and the costing code its tables on first
   use (about 20 ms), once here instead of once per worker.
"""

from __future__ import annotations

import logging
import os

from .processes import MAIN_PATH_VARIABLE

log = logging.getLogger(__name__)


def _import_main() -> None:
    from multiprocessing import process, spawn

    path = os.environ.pop(MAIN_PATH_VARIABLE, None)
    if not path:
        return
    process.current_process()._inheriting = True  # as the fork server sets it: a script without a __main__ guard raises
    try:
        spawn.import_main_path(path)
    except Exception as exc:  # noqa: BLE001 - then each worker re-runs the main module itself, as without this
        log.debug("the fork server could not import the main module %s: %s", path, exc)
    finally:
        del process.current_process()._inheriting


def _warm_up() -> None:
    from onnx import TensorProto, helper

    from ..analysis import analyze_model

    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("Flatten", ["r"], ["f"]), helper.make_node("Gemm", ["f", "g"], ["y"])]
    graph = helper.make_graph(
        nodes, "warm-up", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0]),
         helper.make_tensor("g", TensorProto.FLOAT, [9, 1], [1.0] * 9)])
    try:
        analyze_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]))
    except Exception as exc:  # noqa: BLE001 - only a head start; the workers work without it
        log.debug("warm-up analysis failed: %s", exc)


_import_main()
_warm_up()
