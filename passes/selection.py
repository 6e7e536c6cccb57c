"""Which convs a rewrite may touch: name patterns, a minimum of input channels, and depthwise convs."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from .errors import RewriteOptionError
from .sites import ConvSite


@dataclass(frozen=True)
class Selection:
    """Which convs may be rewritten. Patterns are shell-style (fnmatch) on node names; exclude wins."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_channels: int = 5  # input channels; the default skips a stem reading <= 4 channels (RGB, RGBA, gray)
    include_depthwise: bool = False

    def __post_init__(self):
        if self.min_channels < 1:
            raise RewriteOptionError(f"min_channels must be >= 1, got {self.min_channels}", parameter="min_channels")

    def reason(self, site: ConvSite) -> str | None:
        """None when the conv is selected, else why not (plan data: it names the parameters, not flags)."""
        if self.include and not any(fnmatch.fnmatchcase(site.name, p) for p in self.include):
            return "not matched by include"
        if any(fnmatch.fnmatchcase(site.name, p) for p in self.exclude):
            return "matched by exclude"
        if site.cin < self.min_channels:
            return f"{site.cin} input channels < min_channels {self.min_channels}" + (" (stem)" if site.cin <= 4 else "")
        if site.depthwise and not self.include_depthwise:
            return "already depthwise"
        return None
