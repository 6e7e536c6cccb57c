"""The report's optional sections (parameter sizes, training memory, activation arena) after the table, or as
extra top-level keys of the JSON record: formats, computes nothing. Without sections the report's bytes are
exactly what its renderer wrote."""

from __future__ import annotations

import json
from collections.abc import Mapping

from .arena import arena_markdown, arena_text
from .sizes import sizes_markdown, sizes_text
from .training import training_markdown, training_text

SECTION_FORMATS = ("table", "json", "md")
TEXT = {"sizes": sizes_text, "training": training_text, "arena": arena_text}  # in the order they print
MARKDOWN = {"sizes": sizes_markdown, "training": training_markdown, "arena": arena_markdown}


def with_sections(text: str, fmt: str, sections: Mapping[str, object], width: int | None = None) -> str:
    """``text`` (the report rendered in ``fmt``, one of SECTION_FORMATS) followed by ``sections`` (key -> result
    object with ``to_dict``; keys of TEXT)."""
    if not sections:
        return text
    ordered = [key for key in TEXT if key in sections]
    if fmt == "json":
        data = json.loads(text)
        data.update((key, sections[key].to_dict()) for key in ordered)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if fmt == "table":
        return text + "".join("\n" + TEXT[key](sections[key], width) for key in ordered)
    if fmt == "md":
        return text + "".join("\n" + MARKDOWN[key](sections[key]) for key in ordered)
    raise ValueError(f"sections print with {', '.join(SECTION_FORMATS)}, not {fmt!r}")
