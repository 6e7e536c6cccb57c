"""Control flow: the If/Loop/Scan node itself costs nothing; the nodes of its
subgraphs are costed as rows of their own (Loop and Scan bodies times their
trip count, the more expensive If branch), see onnxcost/analysis.py."""

from __future__ import annotations

from .registry import OpCost, register

register("If", "Loop", "Scan")(lambda ctx: OpCost())
