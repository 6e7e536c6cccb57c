"""The audit's record: one row per model file, the result that holds them, and the resume log (JSONL).

A row is plain data made in a worker process; the same row is one line of the JSONL (``jsonl_line``), so a
resumed run, a local run and a run on Ray write the same bytes for the same files.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..errors import OutputWriteError
from .errors import AuditInputError

SCHEMA = "onnxcost.audit/1"
OK, ERROR, TIMEOUT, OUT_OF_MEMORY, CRASHED = "ok", "error", "timeout", "out of memory", "crashed"
STATUSES = (OK, ERROR, TIMEOUT, OUT_OF_MEMORY, CRASHED)


@dataclass
class ModelInput:
    """A graph input as the file declares it: dims are integers, symbols ('batch') or '?' (unnamed or negative)."""

    name: str
    dtype: str
    shape: list[int | str] | None  # None: the file gives no shape at all


@dataclass
class BudgetVerdict:
    """The config file's budgets applied to one model (``audit --check``)."""

    ok: bool
    checked: int  # how many budgets applied to the model (0: none of the config's globs matched it)
    failed: list[str] = field(default_factory=list)  # the names of those that failed: "max-macs", "max-growth-macs"


@dataclass
class AuditRow:
    """One model file. Figures are None when the model could not be costed (an error after costing, such as a
    baseline its budgets name that cannot be read, keeps them); ``error`` is one line or None."""

    path: str
    status: str  # one of STATUSES
    error: str | None = None
    producer: str | None = None
    producer_version: str | None = None
    ir_version: int | None = None
    opset: int | None = None  # of the default domain (ai.onnx)
    opsets: dict[str, int] = field(default_factory=dict)
    inputs: list[ModelInput] = field(default_factory=list)
    free_dims: list[str] = field(default_factory=list)  # symbols in first-seen order; unnamed ones as 'x[0]'
    macs: int | None = None
    flops: int | None = None
    params: int | None = None
    param_bytes: int | None = None
    peak_activation_bytes: int | None = None
    compute_layers: int | None = None
    warnings: list[str] = field(default_factory=list)
    budgets: BudgetVerdict | None = None

    @property
    def ok(self) -> bool:
        """Costed, and within its budgets when they were checked."""
        return self.status == OK and (self.budgets is None or self.budgets.ok)

    def to_dict(self) -> dict:
        """The JSONL record: ``schema`` first, then the fields in their declared order."""
        return {"schema": SCHEMA, **asdict(self)}

    @classmethod
    def from_dict(cls, record: dict) -> AuditRow:
        """A row read back from a JSONL record (``to_dict``'s output); ValueError when it is not one."""
        names = [f.name for f in fields(cls)]
        if not isinstance(record, dict) or record.get("schema") != SCHEMA or list(record)[1:] != names:
            raise ValueError(f"not an {SCHEMA} row")
        values = {name: record[name] for name in names}
        if values["status"] not in STATUSES or not isinstance(values["path"], str):
            raise ValueError(f"not an {SCHEMA} row")
        values["inputs"] = [ModelInput(**item) for item in values["inputs"]]
        values["budgets"] = BudgetVerdict(**values["budgets"]) if values["budgets"] is not None else None
        return cls(**values)

    @classmethod
    def failed(cls, path: str, status: str, error: str) -> AuditRow:
        """A row for a model whose worker gave nothing back (timeout, out of memory, crash)."""
        return cls(path=path, status=status, error=error)


def jsonl_line(row: AuditRow) -> str:
    """The row as one JSON line (ASCII: a path that is not valid UTF-8 survives as escapes)."""
    return json.dumps(row.to_dict()) + "\n"


@dataclass
class AuditResult:
    """The rows of an audit, sorted by path; ``resumed`` of them came from the resume file."""

    rows: list[AuditRow]
    resumed: int = 0
    checked: bool = False  # budgets were applied (audit --check)

    @property
    def ok(self) -> bool:
        """Every model costed (and within its budgets when checked)."""
        return all(row.ok for row in self.rows)

    def counts(self) -> dict[str, int]:
        """Models per status (statuses with none left out); costed models that failed a budget count as
        'over budget', not 'ok', so the counts add up to the number of models."""
        counts = {status: sum(row.status == status for row in self.rows) for status in STATUSES}
        counts["over budget"] = sum(row.status == OK and not row.ok for row in self.rows)
        counts[OK] -= counts["over budget"]
        return {status: n for status, n in counts.items() if n}

    def summary(self) -> str:
        """'7 models: 4 ok, 1 error, 1 timeout, 1 out of memory'."""
        parts = ", ".join(f"{n} {status}" for status, n in self.counts().items())
        noun = "model" if len(self.rows) == 1 else "models"
        return f"{len(self.rows)} {noun}: {parts or 'none'}"

    def to_dict(self) -> dict:
        """The machine form: counts and the rows, each exactly its JSONL record."""
        return {"schema": SCHEMA, "models": len(self.rows), "counts": self.counts(),
                "rows": [row.to_dict() for row in self.rows]}


class ResumeLog:
    """The JSONL a run appends each row to as it finishes (one flushed line per model), so that a killed run
    continues where it stopped. Reading it gives the rows already done; a partial last line (the run was killed
    while writing it) is dropped. ``finish`` rewrites it in path order, atomically."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.rows: dict[str, AuditRow] = {}  # path -> row, the first one written for each path
        self._handle = None
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise AuditInputError(f"resume: cannot read {self.path} ({exc.strerror or exc})", parameter="resume") from exc
        lines = data.split(b"\n")
        complete, tail = lines[:-1], lines[-1]
        for number, line in enumerate(complete, 1):
            if not line.strip():
                continue
            try:
                row = AuditRow.from_dict(json.loads(line))
            except (ValueError, TypeError, KeyError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                raise AuditInputError(f"resume: {self.path} line {number} is not an {SCHEMA} row "
                                      "(give a new file or one an earlier audit wrote)", parameter="resume") from None
            self.rows.setdefault(row.path, row)
        if tail:
            # Only the start of a row a killed run was writing is dropped; anything else is not ours to cut.
            if not tail.startswith(b'{"schema": "' + SCHEMA.encode()):
                raise AuditInputError(f"resume: {self.path} does not end with a complete line and is not an "
                                      f"{SCHEMA} JSONL", parameter="resume")
            self._truncate(len(data) - len(tail))

    def _truncate(self, size: int) -> None:
        try:
            os.truncate(self.path, size)
        except OSError as exc:
            raise OutputWriteError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def append(self, row: AuditRow) -> None:
        """Write one finished row and flush it, so a kill after this call keeps it."""
        try:
            if self._handle is None:
                self._handle = open(self.path, "a", encoding="ascii")
            self._handle.write(jsonl_line(row))
            self._handle.flush()
        except OSError as exc:
            raise OutputWriteError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        self.rows.setdefault(row.path, row)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def finish(self) -> None:
        """Rewrite the log in path order (atomically): a finished run leaves the bytes an uninterrupted one would."""
        from ..files import write_atomic

        self.close()
        write_atomic(self.path, "".join(jsonl_line(self.rows[path]) for path in sorted(self.rows)))
