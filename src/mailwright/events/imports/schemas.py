"""What an import reports back: counts, and every rejected row with its line and column."""

from pydantic import BaseModel


class RejectedRow(BaseModel):
    """One row that was not imported: its line in the file, the column at fault and why."""

    line: int
    column: str | None
    reason: str


class ImportReport(BaseModel):
    """The outcome of one CSV import (or of its dry run)."""

    kind: str
    path: str
    dry_run: bool
    # Data rows read (the header excluded).
    rows: int = 0
    # Valid records: customers, products, or orders (an order spans one row per line).
    records: int = 0
    # Records applied by this run, and records already there from an earlier run of the same data.
    imported: int = 0
    unchanged: int = 0
    batches: int = 0
    rejected: list[RejectedRow] = []


class OnlineRetailReport(BaseModel):
    """The outcome of importing the UCI Online Retail data set."""

    path: str
    rows_read: int
    returns_dropped: int
    guest_rows_dropped: int
    customers: int
    orders: int
    order_lines: int
    products: int
    # Events stored by this run and events already stored by an earlier run.
    events_imported: int
    events_unchanged: int
    seconds: float
