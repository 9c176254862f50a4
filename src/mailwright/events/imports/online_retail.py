"""Import of the UCI Online Retail data set (a UK gift shop, 2010-12 .. 2011-12) as a shop's history.

Each customer becomes an Identify event and each invoice an Order Completed event, through the same
`events.service.ingest` as live traffic, batched by whole customers so every batch is one transaction
and each contact's roll-ups are computed once. Message ids come from the customer and invoice numbers,
so a second run stores nothing new and an interrupted run is completed by running it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailwright.catalog import service as catalog
from mailwright.catalog.schemas import ProductIn
from mailwright.contacts.identity import normalize_email
from mailwright.core.errors import InvalidInput
from mailwright.core.money import to_minor
from mailwright.core.uow import UnitOfWork
from mailwright.events import vocabulary as v
from mailwright.events.imports.csv_import import order_properties
from mailwright.events.imports.geo import country_code, locale_for, timezone_for
from mailwright.events.imports.schemas import OnlineRetailReport
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.events.service import ingest
from mailwright.orders.schemas import OrderLineIn

if TYPE_CHECKING:
    import pandas as pd

UowFactory = Callable[[], AbstractContextManager[UnitOfWork]]
# Called after each batch with (invoices done, invoices in all).
Progress = Callable[[int, int], None]

SOURCE = "online-retail"
FILE_NAME = "online_retail_2010_2011.parquet"
# The shop sold in pounds; every price in the data is GBP.
CURRENCY = "GBP"
# Invoice dates are the shop's local time.
SHOP_ZONE = "Europe/London"
COLUMNS = (
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
    "is_return_or_adjustment",
)


def customer_email(customer_id: str) -> str:
    """The stand-in address of a data-set customer (the data has no addresses)."""
    return f"customer-{customer_id}@example.com"


def find_parquet(path: Path) -> Path:
    """The data file: PATH itself, or the Online Retail parquet file inside the folder PATH."""
    if path.is_file():
        return path
    if path.is_dir():
        named = path / FILE_NAME
        if named.is_file():
            return named
        found = sorted(path.glob("*.parquet"))
        if len(found) == 1:
            return found[0]
    raise InvalidInput(
        f"no Online Retail data at {path} (expected {FILE_NAME} there; see ../shared/data/README.md)",
        field="path",
    )


@dataclass
class _Customer:
    customer_id: str
    country: str | None
    first_at: datetime
    orders: list[IncomingEvent] = field(default_factory=list)


def load_frame(path: Path, *, limit_customers: int | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Purchase rows (returns, adjustments and guest checkouts dropped), UTC times, ids as text."""
    # pandas loads only for this import, so every other CLI command starts quickly.
    import numpy as np
    import pandas as pd

    source = find_parquet(path)
    try:
        frame = pd.read_parquet(source, columns=list(COLUMNS))
    except (ValueError, KeyError, OSError) as exc:
        raise InvalidInput(f"{source} is not the Online Retail parquet file: {exc}", field="path") from exc
    counts = {"rows_read": len(frame)}
    returns = frame["is_return_or_adjustment"].fillna(False).astype(bool) | (frame["Quantity"] <= 0)
    counts["returns_dropped"] = int(returns.sum())
    frame = frame[~returns]
    guests = frame["CustomerID"].isna()
    counts["guest_rows_dropped"] = int(guests.sum())
    frame = frame[~guests].copy()
    frame["customer"] = frame["CustomerID"].astype("int64").astype(str)
    if limit_customers is not None:
        keep = sorted(frame["CustomerID"].astype("int64").unique())[:limit_customers]
        frame = frame[frame["CustomerID"].astype("int64").isin(keep)]
    local = frame["InvoiceDate"].dt.tz_localize(
        SHOP_ZONE,
        # The autumn hour that happens twice is read as standard time; a shop rarely sells at 1 am.
        ambiguous=np.zeros(len(frame), dtype=bool),
        nonexistent="shift_forward",
    )
    frame["placed_at"] = local.dt.tz_convert("UTC")
    frame["InvoiceNo"] = frame["InvoiceNo"].astype(str)
    frame["StockCode"] = frame["StockCode"].astype(str)
    frame["Description"] = frame["Description"].fillna("").astype(str).str.strip()
    # A stable order: by customer, then time, keeping the file's order of lines within an invoice.
    frame = frame.sort_values(["CustomerID", "placed_at", "InvoiceNo"], kind="stable")
    return frame, counts


def catalog_products(frame: pd.DataFrame, minor_of: dict[float, int]) -> list[ProductIn]:
    """One catalog product per stock code: its most used description and its most common price."""
    titles = (
        frame[frame["Description"] != ""]
        .groupby(["StockCode", "Description"])
        .size()
        .reset_index(name="n")
        .sort_values(["StockCode", "n", "Description"], ascending=[True, False, True])
        .drop_duplicates("StockCode")
        .set_index("StockCode")["Description"]
    )
    prices = (
        frame.groupby(["StockCode", "UnitPrice"])
        .size()
        .reset_index(name="n")
        .sort_values(["StockCode", "n", "UnitPrice"], ascending=[True, False, False])
        .drop_duplicates("StockCode")
        .set_index("StockCode")["UnitPrice"]
    )
    return [
        ProductIn(
            external_id=code,
            title=str(titles.get(code, "")),
            price_minor=minor_of[float(price)],
            currency=CURRENCY,
        )
        for code, price in prices.items()
    ]


def _customers(frame: pd.DataFrame, minor_of: dict[float, int]) -> Iterator[_Customer]:
    """Each customer with their orders, one at a time (rows are sorted by customer, then invoice)."""
    # Most customers have one country; the few with several get the one most of their lines name.
    countries = (
        frame.groupby(["customer", "Country"])
        .size()
        .reset_index(name="n")
        .sort_values(["customer", "n"], ascending=[True, False])
        .drop_duplicates("customer")
        .set_index("customer")["Country"]
    )
    customers = frame["customer"].tolist()
    invoices = frame["InvoiceNo"].tolist()
    codes = frame["StockCode"].tolist()
    titles = frame["Description"].tolist()
    quantities = frame["Quantity"].astype("int64").tolist()
    prices = [minor_of[p] for p in frame["UnitPrice"].astype(float).tolist()]
    moments = frame["placed_at"].tolist()
    customer: _Customer | None = None
    invoice: str | None = None
    invoice_at = datetime.min.replace(tzinfo=UTC)
    lines: list[OrderLineIn] = []
    for i, customer_id in enumerate(customers):
        if customer is None or customer_id != customer.customer_id or invoices[i] != invoice:
            if customer is not None and invoice is not None:
                customer.orders.append(_order_event(customer.customer_id, invoice, invoice_at, lines))
            invoice, lines = invoices[i], []
            invoice_at = moments[i].to_pydatetime()
            if customer is None or customer_id != customer.customer_id:
                if customer is not None:
                    yield customer
                raw = countries.get(customer_id)
                customer = _Customer(
                    customer_id=customer_id,
                    country=country_code(None if raw is None else str(raw)),
                    first_at=invoice_at,
                )
        lines.append(
            OrderLineIn(
                product_external_id=codes[i],
                sku=codes[i],
                title=titles[i] or None,
                category=None,
                quantity=quantities[i],
                price_minor=prices[i],
            )
        )
    if customer is not None and invoice is not None:
        customer.orders.append(_order_event(customer.customer_id, invoice, invoice_at, lines))
        yield customer


def _order_event(customer_id: str, invoice: str, at: datetime, lines: list[OrderLineIn]) -> IncomingEvent:
    draft = OrderDraft(
        external_id=invoice,
        currency=CURRENCY,
        total_minor=sum(line.price_minor * line.quantity for line in lines),
        lines=lines,
    )
    return IncomingEvent(
        message_id=f"{SOURCE}:order:{invoice}",
        type="track",
        name=v.ORDER_COMPLETED,
        occurred_at=at,
        source=SOURCE,
        user_id=customer_id,
        email=customer_email(customer_id),
        properties=order_properties(draft),
        order=draft,
    )


def _identify_event(customer: _Customer) -> IncomingEvent:
    profile: dict[str, Any] = {"currency": CURRENCY}
    if customer.country is not None:
        profile["country"] = customer.country
        if (locale := locale_for(customer.country)) is not None:
            profile["locale"] = locale
        if (zone := timezone_for(customer.country)) is not None:
            profile["timezone"] = zone
    email = normalize_email(customer_email(customer.customer_id))
    return IncomingEvent(
        message_id=f"{SOURCE}:customer:{customer.customer_id}",
        type="identify",
        name=v.IDENTIFY,
        occurred_at=customer.first_at,
        source=SOURCE,
        user_id=customer.customer_id,
        email=email,
        properties={"traits": {"email": email, **profile}},
        profile=profile,
    )


def batches(customers: Iterable[_Customer], invoices_per_batch: int) -> Iterator[list[IncomingEvent]]:
    """Whole customers (Identify first, then their orders) grouped until a batch holds enough invoices."""
    batch: list[IncomingEvent] = []
    invoices = 0
    for customer in customers:
        batch.append(_identify_event(customer))
        batch.extend(customer.orders)
        invoices += len(customer.orders)
        if invoices >= invoices_per_batch:
            yield batch
            batch, invoices = [], 0
    if batch:
        yield batch


def import_online_retail(
    uows: UowFactory,
    path: Path,
    *,
    limit_customers: int | None = None,
    invoices_per_batch: int = 2000,
    progress: Progress | None = None,
) -> OnlineRetailReport:
    """Import the Online Retail purchases: customers, their invoices as orders, and the catalog."""
    if limit_customers is not None and limit_customers < 1:
        raise InvalidInput("--limit-customers must be at least 1", field="limit_customers")
    started = time.perf_counter()
    frame, counts = load_frame(path, limit_customers=limit_customers)
    # A few thousand distinct prices: exact decimal rounding once per price, not once per line.
    minor_of = {p: to_minor(p, CURRENCY) for p in frame["UnitPrice"].astype(float).unique().tolist()}
    products = catalog_products(frame, minor_of)
    for start in range(0, len(products), 1000):
        with uows() as uow:
            catalog.upsert_products(uow.session, products[start : start + 1000], uow.now())
    total_orders = int(frame["InvoiceNo"].nunique())
    # Built batch by batch, so the whole history is never held as events at once.
    imported = unchanged = done = 0
    for batch in batches(_customers(frame, minor_of), invoices_per_batch):
        with uows() as uow:
            # Historical purchases: no flow should react to them, so no events.ingested job.
            result = ingest(uow, batch, notify=False)
        imported += result.accepted
        unchanged += result.duplicates
        done += sum(1 for event in batch if event.order is not None)
        if progress is not None:
            progress(done, total_orders)
    return OnlineRetailReport(
        path=str(find_parquet(path)),
        rows_read=counts["rows_read"],
        returns_dropped=counts["returns_dropped"],
        guest_rows_dropped=counts["guest_rows_dropped"],
        customers=int(frame["customer"].nunique()),
        orders=total_orders,
        order_lines=len(frame),
        products=len(products),
        events_imported=imported,
        events_unchanged=unchanged,
        seconds=round(time.perf_counter() - started, 2),
    )
