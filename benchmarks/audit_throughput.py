"""Audit throughput: models per second for one job, all local cores, and Ray on this machine.

    python benchmarks/audit_throughput.py [--files 200] [--repeats 3] [--no-ray]

Writes --files models to a temporary folder: equal shares of four zoo samples, SqueezeNet 1.0 and 1.1,
ShuffleNet V2 1.0x and MobileNet V2 (4.8, 4.7, 8.8 and 13.5 MiB; 10-50 ms each to cost), built with
``onnxcost.samples`` and copied. Then, on the same page-cached files:

- in one process: ``onnxcost.analyze`` on every file in a loop, no worker processes and no limits: the work;
- ``audit(jobs=1)`` and ``audit(jobs=<cores>)``: each file in its own worker process with the limits;
- ``audit(ray=True)`` on a local Ray cluster of <cores> CPUs (``ray.init`` timed apart), first on cold Ray
  workers, then again on warm ones.

Times are the median of --repeats runs. It checks that every run gives the same JSONL, byte for byte, and
that each model's totals equal those of ``onnxcost.analyze``; it exits 1 when they do not.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, table

MODELS = ("squeezenet1_0", "squeezenet1_1", "shufflenet_v2_x1_0", "mobilenet_v2")


def write_models(folder: Path, count: int) -> None:
    from onnxcost import samples
    from onnxcost.files import save_model

    for index, name in enumerate(MODELS):
        first = folder / f"{name}_000.onnx"
        save_model(samples.build(name), first)
        for copy in range(1, len(range(index, count, len(MODELS)))):
            shutil.copyfile(first, folder / f"{name}_{copy:03d}.onnx")
    for path in folder.iterdir():  # into the page cache, so no run pays for the disk
        path.read_bytes()


def timed(step, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = step()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true", help="skip the Ray runs")
    args = parser.parse_args()

    import onnxcost
    from onnxcost.auditing import audit
    from onnxcost.render.audit import render_audit

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    folder = Path(tempfile.mkdtemp(prefix="onnxcost-audit-bench-"))
    try:
        write_models(folder, args.files)
        files = sorted(folder.iterdir())
        start = time.perf_counter()
        audit(files[0], jobs=1)  # starts the fork server (interpreter + onnxcost imports), once per process
        forkserver = time.perf_counter() - start

        rows, outputs = [], {}
        serial, reports = timed(lambda: [onnxcost.analyze(path) for path in files], args.repeats)
        rows.append(("in one process (no workers, no limits)", serial))
        for jobs in (1, cores):
            seconds, result = timed(lambda: audit(folder, jobs=jobs), args.repeats)
            rows.append((f"audit, {jobs} job{'s' if jobs > 1 else ''}", seconds))
            outputs[f"{jobs} jobs"] = result
        ray_start = None
        if not args.no_ray:
            import ray

            start = time.perf_counter()
            ray.init(num_cpus=cores, include_dashboard=False, log_to_driver=False)
            ray_start = time.perf_counter() - start
            cold, outputs["ray cold"] = timed(lambda: audit(folder, ray=True), 1)
            warm, outputs["ray"] = timed(lambda: audit(folder, ray=True), args.repeats)
            ray.shutdown()
            rows += [(f"audit on Ray ({cores} CPUs), cold workers", cold), (f"audit on Ray ({cores} CPUs), warm workers", warm)]

        texts = {name: render_audit(result, "jsonl") for name, result in outputs.items()}
        same = len(set(texts.values())) == 1
        first = next(iter(outputs.values()))
        exact = all(row.status == "ok" and (row.macs, row.params) == (report.totals.macs, report.totals.params)
                    for row, report in zip(first.rows, reports))
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    one_job = dict(rows)["audit, 1 job"]
    print(f"Machine: {machine()}")
    print(f"{args.files} files ({', '.join(MODELS)}; {len(MODELS)} x {args.files // len(MODELS)}), median of {args.repeats} runs\n")
    print(table(["run", "seconds", "models/s", "vs 1 job"],
                [(name, f"{s:.2f}", f"{args.files / s:.1f}", f"{one_job / s:.2f}x") for name, s in rows]))
    print(f"\nfork server start (once per process): {forkserver:.2f} s")
    per_model = (one_job - serial) / args.files
    print(f"worker process per model (1 job - in one process): {1000 * per_model:.1f} ms")
    if ray_start is not None:
        local = dict(rows)[f"audit, {cores} jobs"]
        warm = rows[-1][1]
        print(f"ray.init (local cluster): {ray_start:.2f} s; Ray over the local pool on warm workers: "
              f"{1000 * (warm - local) / args.files:+.1f} ms per model ({warm / local:.2f}x the time)")
    print(f"\nsame JSONL in every run: {'yes' if same else 'NO'}; totals equal to onnxcost.analyze: {'yes' if exact else 'NO'}")
    return 0 if same and exact else 1


if __name__ == "__main__":
    sys.exit(main())
