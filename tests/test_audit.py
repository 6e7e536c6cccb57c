"""onnxcost audit: one row per model of a folder, each costed in its own worker process.

The fleet is a handful of the sample zoo written to a folder (one in a subfolder), a truncated file, and three
small valid models that a test double of the worker turns into a model that eats memory, one that hangs and one
that crashes its worker. Figures are checked against single ``onnxcost.analyze`` runs and, where
tests/test_zoo.py cites them, against the architectures' published counts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from onnx import helper

import onnxcost
from onnxcost import samples
from onnxcost.auditing import AuditInputError, AuditRow, audit, audit_file, discover
from onnxcost.auditing.rows import ResumeLog, jsonl_line
from onnxcost.files import save_model
from onnxcost.render.audit import render_audit
from support.builders import model, zeros

ZOO = {"mobilenet_v2": "mobilenet_v2.onnx", "resnet50": "resnet50.onnx",
       "shufflenet_v2_x1_0": "nested/shufflenet_v2_x1_0.onnx", "squeezenet1_1": "nested/squeezenet1_1.onnx"}
DOUBLES = ("crash.onnx", "hungry.onnx", "stuck.onnx")
MiB = 2**20
MEMORY_LIMIT = 512 * MiB  # a worker costing ResNet-50 peaks near 240 MiB resident
TIMEOUT = 5.0  # seconds: far above any file here (ResNet-50 takes 0.1 s), so only 'stuck' reaches it


def run(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "onnxcost", *args], capture_output=True, text=True, timeout=300, **kwargs)


def conv_relu():
    """Conv (3 filters of 2x3x3) + Relu on x[batch, 2, 5, 5]; 'batch' is free."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["c"], name="conv"), helper.make_node("Relu", ["c"], ["y"], name="relu")]
    return model(nodes, {"x": ["batch", 2, 5, 5]}, ["y"], {"W": zeros(3, 2, 3, 3)})


def doubled(path: str, where: str, settings) -> AuditRow:
    """The real worker, except for four files: 'hungry.onnx' takes memory until it is stopped, 'stuck.onnx'
    never returns, 'crash.onnx' kills its own process, 'refused.onnx' has an allocation refused. Module-level,
    so the worker process can import it."""
    name = os.path.basename(path)
    if name == "crash.onnx":
        os.kill(os.getpid(), signal.SIGSEGV)
    if name == "hungry.onnx":
        hoard = []
        for _ in range(32):  # 32 x 64 MiB = 2 GiB at most: bounded even if the limit were not enforced
            hoard.append(np.ones(64 * MiB, dtype=np.uint8))
            time.sleep(0.01)
        time.sleep(3600)  # not stopped for its memory: the timeout stops it, and the test sees 'timeout'
    if name == "stuck.onnx":
        time.sleep(3600)
    if name == "refused.onnx":  # an allocation the system refuses
        raise MemoryError
    return audit_file(path, where, settings)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fleet")
    for name, relative in ZOO.items():
        (folder / relative).parent.mkdir(exist_ok=True)
        save_model(samples.build(name), folder / relative)
    data = (folder / ZOO["squeezenet1_1"]).read_bytes()
    (folder / "truncated.onnx").write_bytes(data[: len(data) // 2])
    for name in DOUBLES:
        (folder / name).write_bytes(conv_relu().SerializeToString())
    (folder / "notes.txt").write_text("not a model: a folder gives its *.onnx files only")
    return folder


@pytest.fixture(scope="module")
def audited(fleet):
    calls = []
    result = audit(fleet, jobs=2, timeout=TIMEOUT, memory_limit=MEMORY_LIMIT, worker=doubled,
                   progress=lambda what, done, total: calls.append((done, total)))
    return result, calls


def test_one_row_per_file_sorted_with_error_rows(fleet, audited):
    result, calls = audited
    names = sorted([str(fleet / relative) for relative in ZOO.values()]
                   + [str(fleet / name) for name in (*DOUBLES, "truncated.onnx")])
    assert [row.path for row in result.rows] == names
    status = {os.path.relpath(row.path, fleet): row for row in result.rows}
    assert {name: row.status for name, row in status.items() if row.status != "ok"} == {
        "crash.onnx": "crashed", "hungry.onnx": "out of memory", "stuck.onnx": "timeout", "truncated.onnx": "error"}
    assert status["crash.onnx"].error == "the worker died (SIGSEGV)"
    assert status["hungry.onnx"].error == "used more than 512.0 MiB of memory: the worker was stopped"
    assert status["stuck.onnx"].error == "took longer than 5 s: the worker was stopped"
    assert status["truncated.onnx"].error.startswith("not an ONNX model (protobuf parse failed")
    assert all(row.macs is None and row.params is None for row in result.rows if row.status != "ok")
    assert not result.ok and result.summary() == "8 models: 4 ok, 1 error, 1 timeout, 1 out of memory, 1 crashed"
    assert calls[0] == (0, 8) and calls[-1] == (8, 8) and len(calls) == 9  # once at the start, once per row


def test_totals_equal_single_analyze_runs_and_published_figures(fleet, audited):
    rows = {row.path: row for row in audited[0].rows}
    for relative in ZOO.values():
        row, report = rows[str(fleet / relative)], onnxcost.analyze(fleet / relative)
        t = report.totals
        assert (row.macs, row.flops, row.params, row.param_bytes, row.peak_activation_bytes, row.compute_layers) == (
            t.macs, t.flops, t.params, t.param_bytes, t.peak_activation_bytes, t.compute_layers)
        assert row.warnings == report.warnings and row.status == "ok" and row.error is None
    resnet = rows[str(fleet / ZOO["resnet50"])]
    # torchvision: 25,557,032 parameters + 2 running statistics per BN channel (26,560 channels); 4.089 GMACs.
    assert resnet.macs == 4_089_184_256 and resnet.params == 25_557_032 + 2 * 26_560 and resnet.compute_layers == 54
    assert resnet.param_bytes == 4 * resnet.params  # float32
    assert rows[str(fleet / ZOO["squeezenet1_1"])].params == 1_235_496  # no BatchNorm
    assert rows[str(fleet / ZOO["mobilenet_v2"])].params == 3_504_872 + 2 * 17_056
    assert rows[str(fleet / ZOO["shufflenet_v2_x1_0"])].params == 2_278_604 + 2 * 8_090
    assert (resnet.producer, resnet.opset, resnet.opsets) == ("onnxcost.samples", 17, {"ai.onnx": 17})
    assert [(i.name, i.dtype, i.shape) for i in resnet.inputs] == [("input", "float", [1, 3, 224, 224])]


def test_files_folders_and_globs_give_each_file_once(tmp_path, monkeypatch):
    for name in ["a.onnx", "b.ONNX", "sub/c.onnx", "sub/deeper/d.onnx", ".hidden.onnx", ".cache/e.onnx", "notes.txt", "f.bin"]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    assert discover(["."]) == ["a.onnx", "b.ONNX", "sub/c.onnx", "sub/deeper/d.onnx"]
    assert discover(["sub/**/*.onnx", "sub", "f.bin", "./a.onnx"]) == ["a.onnx", "f.bin", "sub/c.onnx", "sub/deeper/d.onnx"]
    assert discover([tmp_path / "sub" / "deeper"]) == [str(tmp_path / "sub" / "deeper" / "d.onnx")]


def test_a_refused_allocation_is_out_of_memory(tmp_path):
    (tmp_path / "refused.onnx").write_bytes(conv_relu().SerializeToString())
    row = audit(tmp_path, jobs=1, worker=doubled).rows[0]
    assert (row.status, row.error) == ("out of memory", "ran out of memory (an allocation failed)")


def test_free_dims_are_named_and_dims_apply_to_every_file(tmp_path):
    (tmp_path / "a.onnx").write_bytes(conv_relu().SerializeToString())
    free, given = audit(tmp_path, jobs=1).rows[0], audit(tmp_path, jobs=1, dims={"batch": 2}).rows[0]
    assert [(i.name, i.shape) for i in free.inputs] == [("x", ["batch", 2, 5, 5])] and free.free_dims == ["batch"]
    assert free.macs == 1 * 3 * 3 * 3 * (2 * 3 * 3)  # batch taken as 1: N·Cout·3·3 outputs, Cin·3·3 MACs each
    assert len(free.warnings) == 1 and "'batch'" in free.warnings[0]
    assert given.macs == 2 * free.macs and given.warnings == [] and given.free_dims == ["batch"]


def test_same_folder_same_bytes_with_one_job_and_two(fleet, tmp_path):
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first, second = run("audit", str(fleet), "-j", "1", "-f", "jsonl", "-o", str(one)), run("audit", str(fleet), "-j", "2", "-f", "jsonl", "-o", str(two))
    assert first.returncode == second.returncode == 1  # the truncated file fails
    assert "error: not every model passed: 8 models: 7 ok, 1 error" in first.stderr
    assert one.read_bytes() == two.read_bytes()
    lines = one.read_text().splitlines()
    assert len(lines) == 8 and [json.loads(line)["path"] for line in lines] == sorted(json.loads(line)["path"] for line in lines)


def test_resume_after_a_killed_run_redoes_no_finished_file(fleet, tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    for i, name in enumerate(["resnet50", "mobilenet_v2", "resnet50", "squeezenet1_1", "shufflenet_v2_x1_0", "resnet50"]):
        (folder / f"{i}_{name}.onnx").write_bytes((fleet / ZOO[name]).read_bytes())
    expected = audit(folder, jobs=2, resume=tmp_path / "uninterrupted.jsonl")
    assert expected.ok and len(expected.rows) == 6

    log = tmp_path / "nightly.jsonl"
    killed = subprocess.Popen([sys.executable, "-m", "onnxcost", "audit", str(folder), "-j", "1", "--resume", str(log)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                              env=os.environ | {"TMPDIR": str(tmp_path)})
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_bytes().count(b"\n") >= 2) and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(killed.pid, signal.SIGKILL)  # the command, its fork server and the worker costing the next file
    killed.wait()
    done = [json.loads(line)["path"] for line in log.read_text().splitlines()]
    assert 2 <= len(done) < 6, "the run must be killed part-way"
    for path in done:  # redone, these would now be error rows
        Path(path).write_bytes(b"not a model any more")

    resumed = run("audit", str(folder), "--resume", str(log), "-f", "jsonl")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout == "".join(jsonl_line(row) for row in expected.rows)
    assert log.read_bytes() == (tmp_path / "uninterrupted.jsonl").read_bytes()  # rewritten in path order


def descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        try:
            parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (ValueError, OSError, IndexError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the workers' parent-death signal is Linux's")
def test_a_killed_audit_leaves_no_worker_behind(tmp_path):
    (tmp_path / "stuck.onnx").write_bytes(conv_relu().SerializeToString())
    script = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
              "from onnxcost.auditing import audit\nfrom test_audit import doubled\n"
              f"audit({str(tmp_path)!r}, jobs=1, timeout=3600, worker=doubled)\n")
    process = subprocess.Popen([sys.executable, "-c", script])
    deadline = time.monotonic() + 60
    while len(descendants(process.pid)) < 2 and time.monotonic() < deadline:  # the fork server and the stuck worker
        time.sleep(0.05)
    below = descendants(process.pid)
    assert len(below) >= 2
    process.kill()  # SIGKILL: the audit cannot clean up; the kernel must
    process.wait()
    while any(Path(f"/proc/{pid}").exists() for pid in below) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in below)


def test_resume_log_drops_a_partial_last_line_and_refuses_other_files(tmp_path):
    row = AuditRow(path="a.onnx", status="error", error="not an ONNX model")
    log = tmp_path / "log.jsonl"
    log.write_text(jsonl_line(row) + jsonl_line(row)[:40])  # killed while writing the second row
    assert list(ResumeLog(log).rows.values()) == [row]
    assert log.read_text() == jsonl_line(row)

    other = tmp_path / "notes.jsonl"
    other.write_text('{"a": 1}\n')
    with pytest.raises(AuditInputError, match="line 1 is not an onnxcost.audit/1 row"):
        ResumeLog(other)
    model_file = tmp_path / "model.onnx"
    model_file.write_bytes(b"\x08\x07\x12\x03abc")  # no newline: not a partial row either
    with pytest.raises(AuditInputError, match="not an onnxcost.audit/1 JSONL"):
        ResumeLog(model_file)
    assert other.read_text() == '{"a": 1}\n' and model_file.read_bytes() == b"\x08\x07\x12\x03abc"


@pytest.mark.parametrize("args, message", [
    (["audit", "does-not-exist"], "error: does-not-exist: no such file or folder"),
    (["audit", "{fleet}/*.nothing"], "the pattern matches no file"),
    (["audit", "{empty}"], "no .onnx file in this folder or below"),
    (["audit", "{fleet}", "--memory-limit", "lots"], "--memory-limit: 'lots' is not a number"),
    (["audit", "{fleet}", "--resume", "{fleet}/notes.txt"], "error: --resume: {fleet}/notes.txt does not end with a "
                                                             "complete line and is not an onnxcost.audit/1 JSONL"),
    (["audit", "{fleet}", "--timeout", "0"], "Invalid value for '--timeout'"),
])
def test_bad_input_gets_one_line_and_exit_2(fleet, tmp_path, args, message):
    result = run(*[arg.format(fleet=fleet, empty=tmp_path) for arg in args])
    assert result.returncode == 2 and message.format(fleet=fleet) in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert (fleet / "notes.txt").read_text().startswith("not a model")


def test_ray_missing_is_one_line_and_exit_2(fleet, tmp_path):
    (tmp_path / "ray.py").write_text("raise ImportError('No module named ray')\n")  # as if it were not installed
    result = run("audit", str(fleet / ZOO["squeezenet1_1"]), "--ray",
                 env=os.environ | {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])})
    assert result.returncode == 2
    assert result.stderr == "error: Ray is not installed; install it with: pip install 'onnxcost[ray]'\n"


def test_all_ok_exits_0_and_formats_carry_exact_figures(fleet):
    result = run("audit", str(fleet / "nested"), "-f", "md")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# onnxcost audit: 2 models: 2 ok\n")
    assert "| 1,235,496 |" in result.stdout  # SqueezeNet 1.1's parameters
    squeeze = audit(fleet / ZOO["squeezenet1_1"], jobs=1)
    csv_lines = render_audit(squeeze, "csv").splitlines()
    assert csv_lines[0].startswith("path,status,error,producer,producer_version,ir_version,opset,opsets,inputs,free_dims,macs")
    assert f",ok,,onnxcost.samples,,8,17,ai.onnx:17,input:1x3x224x224,,{squeeze.rows[0].macs}," in csv_lines[1]
    assert ",1235496,4941984," in csv_lines[1]  # params, and their float32 bytes: 4 x 1,235,496
    table = render_audit(squeeze, "table")
    assert table.startswith("Audit: 1 model: 1 ok") and "1.24 M" in table and "4.7 MiB" in table


def test_error_rows_are_listed_under_the_table(audited):
    table = render_audit(audited[0], "table")
    below = [line.split("/")[-1] for line in table.splitlines() if ": " in line and not line.startswith("Audit:")]
    assert below[:3] == ["crash.onnx: crashed: the worker died (SIGSEGV)",
                         "hungry.onnx: out of memory: used more than 512.0 MiB of memory: the worker was stopped",
                         "stuck.onnx: timeout: took longer than 5 s: the worker was stopped"]
    assert below[3].startswith("truncated.onnx: error: not an ONNX model") and len(below) == 4
    data = audited[0].to_dict()
    assert data["schema"] == "onnxcost.audit/1" and data["counts"] == {"ok": 4, "error": 1, "timeout": 1, "out of memory": 1, "crashed": 1}
    assert [AuditRow.from_dict(record) for record in data["rows"]] == audited[0].rows


def test_check_applies_the_config_budgets_to_every_row(fleet, tmp_path):
    (tmp_path / "small").mkdir()
    for name, target in [("squeezenet1_1", "small/squeezenet1_1.onnx"), ("shufflenet_v2_x1_0", "small/shufflenet.onnx"),
                         ("mobilenet_v2", "mobilenet_v2.onnx"), ("mobilenet_v2", "mobilenet_v3.onnx")]:
        (tmp_path / target).write_bytes((fleet / ZOO[name]).read_bytes())
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "mobilenet_v2.json").write_text(json.dumps(onnxcost.analyze(fleet / ZOO["squeezenet1_1"]).to_dict()))
    (tmp_path / "onnxcost.toml").write_text(
        'max-params = "3M"\n'  # every model: MobileNet V2's 3,538,984 parameters are over
        '[budgets."small/*.onnx"]\nmax-macs = "300M"\n'  # SqueezeNet 1.1's 349,151,936 MACs are over, ShuffleNet's 144,907,992 not
        '[budgets."mobilenet_v*.onnx"]\nmax-growth = "macs=0%"\nbaseline = "base/{stem}.json"\n')
    rows = {os.path.relpath(row.path, tmp_path): row for row in audit(tmp_path, jobs=2, budgets=tmp_path / "onnxcost.toml").rows}
    verdicts = {name: (row.status, row.budgets and (row.budgets.ok, row.budgets.checked, row.budgets.failed)) for name, row in rows.items()}
    assert verdicts == {
        # 300,774,272 MACs against SqueezeNet's 349,151,936: no growth, but 3,538,984 parameters
        "mobilenet_v2.onnx": ("ok", (False, 2, ["max-params"])),
        "mobilenet_v3.onnx": ("error", None),  # no base/mobilenet_v3.json to measure growth against
        "small/shufflenet.onnx": ("ok", (True, 2, [])),
        "small/squeezenet1_1.onnx": ("ok", (False, 2, ["max-macs"])),
    }
    assert rows["mobilenet_v3.onnx"].error.startswith("budgets: ") and "mobilenet_v3.json" in rows["mobilenet_v3.onnx"].error
    assert rows["mobilenet_v3.onnx"].macs == 300_774_272  # costed, then not judged

    result = run("audit", ".", "--check", "-j", "2", "-f", "csv", cwd=tmp_path)  # the config found from the current folder
    assert result.returncode == 1 and "4 models: 1 ok, 1 error, 2 over budget" in result.stderr, result.stderr
    budgets = {line.split(",")[0]: line.rsplit(",", 1)[1] for line in result.stdout.splitlines()[1:]}
    assert budgets == {"mobilenet_v2.onnx": "failed: max-params", "mobilenet_v3.onnx": "",
                       "small/shufflenet.onnx": "ok", "small/squeezenet1_1.onnx": "failed: max-macs"}
