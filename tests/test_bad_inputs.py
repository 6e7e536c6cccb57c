"""Every bad input in the corpus: one clear line naming the problem, exit code 2, fast, small memory."""

import resource
import subprocess
import sys
import time

import pytest

from bad_inputs import CORPUS, unknown_domain

SECONDS = 30  # generous for a loaded CI machine; each case takes well under 2 s here
MAX_RSS_MB = 600  # interpreter with onnx, onnxruntime and numpy loaded is ~150 MB


def run_cli(*args):
    """Run the CLI; return (exit code, stdout, stderr, seconds, peak RSS in MB)."""
    start = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "onnxcost", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        out, err = process.communicate(timeout=SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"onnxcost {' '.join(args)} did not finish in {SECONDS} s")
    # The largest peak RSS of any child so far: an upper bound for this one.
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return process.returncode, out, err, time.monotonic() - start, rss


@pytest.mark.parametrize("name", list(CORPUS))
def test_bad_input(name, tmp_path):
    case, words = CORPUS[name]
    folder = tmp_path / "model"
    folder.mkdir()
    path = case(folder)
    code, out, err, seconds, rss = run_cli("report", str(path))
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
    assert out == ""
    assert rss < MAX_RSS_MB


def test_unknown_domain_still_reports_with_a_warning(tmp_path):
    code, out, err, _, _ = run_cli("report", str(unknown_domain(tmp_path)), "-f", "json")
    assert code == 0
    assert "no cost rule" in err and "org.example.Mystery" in err
