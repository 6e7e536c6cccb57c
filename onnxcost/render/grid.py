"""A table as plain data (title, columns, rows of strings) for the report's terminal renderings.

A ``Grid`` has the part of ``rich.table.Table``'s interface the renderers use (``add_column``, ``add_row``, the
``columns`` with their ``header``, ``justify`` and ``cells``), so that piped output (``piped_grid``) can write it
without importing or running rich, and a terminal gets the very same table from rich (``to_rich``)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The share bars' characters (terminal.share_bar): a space, then one to eight eighths of a cell; each takes one cell.
BAR_EIGHTHS = " ▏▎▍▌▋▊▉█"


@dataclass
class GridColumn:
    """One column: its header, 'left' or 'right' alignment, rich's overflow method and its cells (strings)."""

    header: str
    justify: str = "left"
    overflow: str | None = None
    cells: list[str] = field(default_factory=list)


@dataclass
class Grid:
    """Columns of strings under an optional title, drawn as rich's ``box.SIMPLE_HEAD`` table (no vertical lines,
    one rule under the header). ``optional``: headers a narrow terminal may drop, the first named first."""

    title: str | None = None
    title_justify: str = "left"
    show_header: bool = True
    columns: list[GridColumn] = field(default_factory=list)
    optional: tuple[str, ...] = ()

    def add_column(self, header: str, justify: str = "left", overflow: str | None = None) -> None:
        self.columns.append(GridColumn(header, justify, overflow))

    def add_row(self, *cells: str) -> None:
        """A row: one string per column (missing trailing cells are empty, as in rich)."""
        if len(cells) > len(self.columns):
            raise ValueError(f"{len(cells)} cells for {len(self.columns)} columns")
        for column, cell in zip(self.columns, [*cells, *[""] * (len(self.columns) - len(cells))]):
            column.cells.append(cell)

    @property
    def row_count(self) -> int:
        return len(self.columns[0].cells) if self.columns else 0

    def to_rich(self):
        """The same table as a ``rich.table.Table`` (what a terminal prints)."""
        from rich import box
        from rich.table import Table

        table = Table(box=box.SIMPLE_HEAD, title=self.title, title_justify=self.title_justify,
                      show_header=self.show_header)
        for column in self.columns:
            options = {"overflow": column.overflow} if column.overflow is not None else {}
            table.add_column(column.header, justify=column.justify, **options)
        for row in zip(*(column.cells for column in self.columns)):
            table.add_row(*row)
        table.optional = self.optional
        return table
