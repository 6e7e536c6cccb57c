"""Every bad input in the corpus: one clear line naming the problem, exit code 2, fast, small memory; and every
hostile file (issue 11) through report, rewrite and validate: exit 0 or 2 as expected, one line, no control
character on the terminal, under 1 GiB and 30 s, nothing of the user's replaced."""

import os
import re
import resource
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.bad_inputs import COMMANDS, CORPUS, HOSTILE, unknown_domain

SECONDS = 30  # generous for a loaded CI machine; each case takes well under 2 s here
MAX_RSS_MB = 300  # the CLI with onnx and numpy loaded peaks near 70 MB on these inputs
HOSTILE_RSS_MB = 1024  # the promise for hostile files; onnxruntime sessions alone take ~150 MB
ADDRESS_SPACE = 3 * 2**30  # a child allocating past this fails (MemoryError, exit 3) instead of taking the machine
# What a file must never get onto the terminal: C0 controls but tab and newline, DEL, C1, bidi controls, separators.
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


# Runs the CLI and, on the way out, writes the process's own peak RSS (VmHWM, in kB) to a file.
# getrusage's ru_maxrss is no use here: on Linux it carries the parent's peak across fork and exec.
CLI_WITH_PEAK = (
    "import atexit, os, runpy, sys\n"
    "def peak():\n"
    "    with open('/proc/self/status') as status, open(os.environ['PEAK_FILE'], 'w') as out:\n"
    "        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM')))\n"
    "atexit.register(peak)\n"
    "sys.argv[0] = 'onnxcost'\n"
    "runpy.run_module('onnxcost', run_name='__main__')\n"
)


def _limit_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run_cli(*args, tmp_path: Path):
    """Run the CLI under ADDRESS_SPACE; return (exit code, stdout, stderr, seconds, peak RSS in MB or None off
    Linux)."""
    peak_file = tmp_path / "peak.txt"
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", CLI_WITH_PEAK, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PEAK_FILE": str(peak_file)},
                               preexec_fn=_limit_address_space)
    try:
        out, err = process.communicate(timeout=SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"onnxcost {' '.join(args)} did not finish in {SECONDS} s")
    rss = int(peak_file.read_text()) / 1024 if peak_file.exists() and peak_file.read_text() else None
    return process.returncode, out, err, time.monotonic() - start, rss


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_input(name, tmp_path):
    case, words = CORPUS[name]
    folder = tmp_path / "model"
    folder.mkdir()
    path = case(folder)
    code, out, err, seconds, rss = run_cli("report", str(path), tmp_path=tmp_path)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert out == ""
    assert rss is None or rss < MAX_RSS_MB


def test_unknown_domain_still_reports_with_a_warning(tmp_path):
    code, out, err, _, _ = run_cli("report", str(unknown_domain(tmp_path)), "-f", "json", tmp_path=tmp_path)
    assert code == 0
    assert "no cost rule" in err and "org.example.Mystery" in err


def hostile_argv(command: str, name: str, tmp_path: Path) -> tuple[list[str], Path | None]:
    """The command line running ``command`` on the hostile case ``name``, and the -o target it must leave alone."""
    case = HOSTILE[name]
    folder = tmp_path / "model"
    folder.mkdir()
    model = case.build(folder)
    target = case.output(folder, model) if case.output else None
    extra = case.extra(folder) if case.extra else []
    if command == "report":
        return ["report", str(model), *(["-o", str(target)] if target else [])], target
    if command == "rewrite":
        return ["rewrite", "--separable", "--exact", str(model), "-o", str(target or tmp_path / "out.onnx"), *extra], target
    return ["validate", str(model), str(model), *extra], target


def fingerprint(path: Path):
    """What the user had at ``path``: its kind (a link, a FIFO, a file) and, for a file, its bytes."""
    kind = os.lstat(path).st_mode
    return stat.S_IFMT(kind), (path.read_bytes() if stat.S_ISREG(kind) else os.readlink(path) if stat.S_ISLNK(kind) else None)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_file(name, command, tmp_path):
    argv, target = hostile_argv(command, name, tmp_path)
    before = fingerprint(target) if target else None
    code, out, err, seconds, rss = run_cli(*argv, tmp_path=tmp_path)
    words = HOSTILE[name].errors.get(command)
    assert not UNSAFE.search(out + err), repr(err)
    if words is None:
        assert code == 0, err
        assert all(line.startswith(("warning: ", "wrote ")) for line in err.splitlines()), err
    else:
        lines = err.strip().splitlines()
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert rss is None or rss < HOSTILE_RSS_MB, f"peak {rss:.0f} MB"
    assert seconds < SECONDS
    if target is not None:
        assert fingerprint(target) == before
