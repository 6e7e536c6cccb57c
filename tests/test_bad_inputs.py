"""Every bad input in the corpus: one clear line naming the problem, exit code 2, fast, small memory."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.bad_inputs import CORPUS, unknown_domain

SECONDS = 30  # generous for a loaded CI machine; each case takes well under 2 s here
MAX_RSS_MB = 300  # the CLI with onnx and numpy loaded peaks near 70 MB on these inputs


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


def run_cli(*args, tmp_path: Path):
    """Run the CLI; return (exit code, stdout, stderr, seconds, peak RSS in MB or None off Linux)."""
    peak_file = tmp_path / "peak.txt"
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-c", CLI_WITH_PEAK, *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "PEAK_FILE": str(peak_file)})
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
