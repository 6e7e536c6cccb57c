"""The rich console every rendering and message prints through: no markup, no emoji codes, and what a model file
could smuggle in escaped (``sanitize.terminal_safe``). Its own module so that ``sanitize`` imports no rich."""

from __future__ import annotations

from rich.console import Console

from .sanitize import terminal_safe


class SafeConsole(Console):
    """A rich console that never interprets markup or emoji codes and escapes what ``terminal_safe`` escapes in
    every string it renders (cells, titles, messages), whatever the caller forgot."""

    def __init__(self, **options):
        super().__init__(markup=False, emoji=False, highlight=False, **options)

    def render_str(self, text: str, **options):
        options["markup"] = False
        options["emoji"] = False
        return super().render_str(terminal_safe(text), **options)
