"""Start-up: `import onnxcost` and `onnxcost --help` import none of the heavy packages that only some commands need
(an import check, not a timing: the figures are in the closing notes and benchmarks)."""

import subprocess
import sys

import pytest

HEAVY = ("onnxruntime", "onnx_graphsurgeon", "sympy", "networkx")


def imported_by(*args: str) -> set[str]:
    """Top-level packages a fresh interpreter imports while running ``args`` (from -X importtime)."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "onnxcost" in names  # the check itself works
    return names


@pytest.mark.parametrize("args", [("-c", "import onnxcost"), ("-m", "onnxcost", "--help")], ids=["import", "help"])
def test_start_up_imports_no_heavy_package(args):
    assert imported_by(*args) & set(HEAVY) == set()


def test_the_heavy_packages_come_with_the_work():
    # The same check sees them once a command needs them: the rewrite's graph surgery imports onnx-graphsurgeon.
    assert "onnx_graphsurgeon" in imported_by("-c", "import onnxcost.passes.surgery")
    # networkx is imported only to name a cycle in a malformed graph, so a report needs none of HEAVY.
    assert imported_by("-c", "import onnxcost; onnxcost.analyze") & set(HEAVY) == set()


def test_help_does_not_import_onnx_or_numpy():
    # --help imports the render package for its escaping alone; the renderers (the HTML page needs onnx and numpy)
    # come with the command that renders.
    names = imported_by("-m", "onnxcost", "--help")
    assert names & {"onnx", "numpy"} == set()
    assert "numpy" in imported_by("-c", "from onnxcost.render import render_html")  # the check sees them


def test_a_report_imports_only_what_it_needs(tmp_path):
    # A whole `onnxcost report` run: no onnxruntime, graphsurgeon, sympy or networkx, and no pydantic (typer 0.29
    # coerces every parameter through it, ~0.3 s of imports: pyproject keeps typer below it).
    names = imported_by("-m", "onnxcost", "report", "--sample", "squeezenet1_1", "-o", str(tmp_path / "r.txt"))
    assert names & {*HEAVY, "pydantic"} == set()
    assert "onnx" in names  # the check sees what the report does import


def test_a_piped_report_table_does_without_rich():
    # Piped, the table is written by render.piped: its cells are ASCII but for the share bars, one cell each, so
    # rich (about 17 ms of start-up) is not imported. A wide character still takes rich's count.
    assert "rich" not in imported_by("-m", "onnxcost", "report", "--sample", "mobilenet_v2")
    assert "rich" in imported_by("-c", "import onnxcost.render.piped as piped; piped.cell_len('漢字')")


def modules_after(*argv: str) -> set[str]:
    """Every module a fresh interpreter holds after ``onnxcost argv...`` ran (sys.modules at exit: -X importtime
    does not log the modules importlib.import_module loads, the commands among them)."""
    code = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print('\\n'.join(sorted(sys.modules))))\n"
            "sys.argv = ['onnxcost', *sys.argv[1:]]\n"
            "runpy.run_module('onnxcost', run_name='__main__')\n")
    result = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return set(result.stdout.split())


OTHER_COMMANDS = {f"onnxcost.cli.{name}" for name in ("rewrite", "sample", "validate", "check", "diff", "audit", "advise")}


def test_a_piped_report_imports_neither_rich_tables_nor_other_commands(tmp_path):
    # Piped, the table is written from its strings (render/piped.py): rich's console, tables and measuring stay
    # unimported, and so do the other commands and the report's optional sections.
    names = modules_after("report", "--sample", "squeezenet1_1")
    assert names & {"rich.console", "rich.table", "rich.measure", "onnxcost.render.text_console",
                    "onnxcost.render.safe_console"} == set()
    assert "onnxcost.render.formulas" not in names  # a model without free dimensions has no formulas to show
    assert names & OTHER_COMMANDS == set()
    assert names & {"onnxcost.render.arena", "onnxcost.render.sizes", "onnxcost.render.training"} == set()
    # the check sees what the report does import
    assert {"onnxcost.cli.report", "onnxcost.render.table", "onnxcost.render.piped"} <= names
    # -o: the line saying where the report went needs no rich console either
    assert "rich.console" not in modules_after("report", "--sample", "squeezenet1_1", "-o", str(tmp_path / "r.txt"))


def test_sections_get_rich_and_help_lists_every_command():
    # --weight-bits adds a section drawn by rich; the command list of --help names every command.
    assert {"rich.table", "onnxcost.render.sizes"} <= modules_after("report", "--sample", "squeezenet1_1",
                                                                   "--weight-bits", "32,8")
    assert OTHER_COMMANDS <= modules_after("--help")


def test_help_imports_neither_the_report_nor_rich():
    # --help reads the commands' signatures, not the Report: onnxcost.report comes with the analysis; its text is
    # typer's own (rich_markup_mode=None) and its messages need no rich console.
    names = modules_after("--help")
    assert names & {"onnxcost.report", "rich", "rich.console"} == set()


def test_a_report_imports_logging_only_to_log(tmp_path):
    # logging costs every command a few ms of start-up; the library logs only where it gives up on something, and
    # --debug shows those lines: a sample logs nothing. An int64 shape value with one element for dims [2] is not a
    # usable constant.
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    shape = numpy_helper.from_array(np.array([1, 2], np.int64), "shape")
    shape.raw_data = shape.raw_data[:8]
    graph = helper.make_graph([helper.make_node("Reshape", ["x", "shape"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [shape])
    path = tmp_path / "short.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert "logging" not in imported_by("-m", "onnxcost", "report", "--sample", "mobilenet_v2")
    debug = subprocess.run([sys.executable, "-m", "onnxcost", "report", str(path), "--debug"], capture_output=True,
                           text=True, timeout=120)
    assert "debug: onnxcost.shapes: initializer 'shape' is not a usable constant" in debug.stderr


def test_the_commands_annotations_are_objects_not_strings():
    # typer evaluates a string annotation with one eval per parameter, for every command --help lists: the command
    # modules do without `from __future__ import annotations` (onnxcost/cli/__init__.py).
    import inspect

    from onnxcost.cli import COMMANDS

    strings = {f"{command.__name__}: {name}" for command in COMMANDS
               for name, annotation in inspect.get_annotations(command).items() if isinstance(annotation, str)}
    assert strings == set()
