"""CSV imports of customers, products and orders: every row validated, the valid ones imported in batches.

Customers become Identify events and orders become Order Completed events, both through the same
`events.service.ingest` as the Segment API, so a profile built from a file is the profile the API
would have built. Message ids come from each record's natural key, so running the same file again
stores nothing new; a crash mid-file leaves whole batches and a re-run completes the rest.
"""

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from mailwright.catalog import service as catalog
from mailwright.catalog.schemas import ProductIn
from mailwright.contacts.identity import (
    normalize_country,
    normalize_currency,
    normalize_email,
    normalize_locale,
    normalize_timezone,
)
from mailwright.core.errors import DomainError, InvalidInput
from mailwright.core.ids import sha256_hex
from mailwright.core.money import from_minor
from mailwright.core.uow import UnitOfWork
from mailwright.events import vocabulary as v
from mailwright.events.imports.csv_reader import (
    CsvRow,
    CsvTable,
    parse_bool,
    parse_consent,
    parse_date,
    parse_datetime,
    parse_money,
    parse_quantity,
    read_table,
)
from mailwright.events.imports.schemas import ImportReport, RejectedRow
from mailwright.events.schemas import IncomingEvent, OrderDraft
from mailwright.events.service import ingest
from mailwright.orders.schemas import OrderLineIn

UowFactory = Callable[[], AbstractContextManager[UnitOfWork]]
# Called after each batch with (records done, records in all).
Progress = Callable[[int, int], None]
ImportKind = Literal["customers", "products", "orders"]

SOURCE = "csv"

# Field -> the header names (reduced by csv_reader.header_key) recognised without a --map option.
CUSTOMER_FIELDS: dict[str, tuple[str, ...]] = {
    "email": ("e_mail", "email_address", "mail"),
    "id": ("customer_id", "user_id", "external_id", "customerid"),
    "first_name": ("firstname", "given_name", "first"),
    "last_name": ("lastname", "surname", "family_name", "last"),
    "name": ("full_name", "customer_name"),
    "phone": ("phone_number", "mobile", "telephone", "tel"),
    "locale": ("language", "lang"),
    "timezone": ("time_zone", "tz"),
    "country": ("country_code",),
    "city": ("town",),
    "currency": (),
    "birthday": ("date_of_birth", "birth_date", "dob"),
    "consent": ("email_consent", "accepts_marketing", "accepts_email_marketing", "subscribed", "opt_in"),
    "created_at": ("signed_up_at", "signup_date", "customer_since", "created"),
}
PRODUCT_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("product_id", "external_id", "productid", "item_id"),
    "sku": ("variant_sku", "stock_code", "stockcode"),
    "title": ("name", "product_name", "product_title", "product", "description"),
    "price": ("unit_price", "unitprice", "variant_price"),
    "currency": (),
    "url": ("product_url", "link"),
    "image_url": ("image", "image_link", "image_src", "picture"),
    "categories": ("category", "product_type", "type", "collection"),
    "in_stock": ("available", "availability", "stock", "inventory"),
}
ORDER_FIELDS: dict[str, tuple[str, ...]] = {
    "order_id": ("order", "order_number", "order_no", "invoice", "invoice_no", "invoiceno", "name"),
    "email": ("customer_email", "e_mail", "email_address"),
    "customer_id": ("user_id", "customerid", "customer"),
    "placed_at": ("date", "order_date", "created_at", "ordered_at", "invoice_date", "invoicedate", "time"),
    "currency": (),
    "product_id": ("stock_code", "stockcode", "item_id", "lineitem_product_id"),
    "sku": ("lineitem_sku", "variant_sku"),
    "title": ("product_name", "product_title", "description", "item_name", "lineitem_name"),
    "category": ("product_category",),
    "quantity": ("qty", "lineitem_quantity", "units"),
    "price": ("unit_price", "unitprice", "item_price", "lineitem_price"),
    "total": ("order_total", "revenue", "grand_total"),
    "subtotal": (),
    "discount": ("discount_amount",),
    "shipping": ("shipping_amount",),
    "tax": ("taxes", "tax_amount"),
    "coupon": ("discount_code", "coupon_code"),
}
FIELDS: dict[str, dict[str, tuple[str, ...]]] = {
    "customers": CUSTOMER_FIELDS,
    "products": PRODUCT_FIELDS,
    "orders": ORDER_FIELDS,
}
# Order-level columns repeated on every line of an order: they must agree across its lines.
_ORDER_LEVEL = (
    "email",
    "customer_id",
    "placed_at",
    "currency",
    "total",
    "subtotal",
    "discount",
    "shipping",
    "tax",
    "coupon",
)


@dataclass(frozen=True)
class CsvOptions:
    """How to read and apply a file: column mapping, defaults for what it omits, dry run, batch size."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    currency: str = "GBP"
    # The zone of times written without an offset (a shop export in local time).
    timezone: str = "UTC"
    dry_run: bool = False
    batch_size: int = 500
    # Queue events.ingested after each batch, so segments and flows see the imported contacts.
    notify: bool = False


def import_csv(
    kind: ImportKind,
    path: Path,
    uows: UowFactory,
    *,
    now: datetime,
    options: CsvOptions,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a customers, products or orders CSV file and report every row that was rejected."""
    if options.batch_size < 1:
        raise InvalidInput("the batch size must be at least 1", field="batch_size")
    currency = normalize_currency(options.currency, field="currency")
    zone = ZoneInfo(normalize_timezone(options.timezone, field="timezone"))
    report = ImportReport(kind=kind, path=str(path), dry_run=options.dry_run)
    if kind == "products":
        table = read_table(path, fields=PRODUCT_FIELDS, mapping=options.mapping, require_any=[("id", "sku")])
        products, rejected = parse_products(table, currency)
        _start(report, table, rejected, len(products))
        if not options.dry_run:
            _upsert_batches(uows, products, report, options.batch_size, progress)
        return report
    if kind == "customers":
        table = read_table(
            path, fields=CUSTOMER_FIELDS, mapping=options.mapping, require_any=[("email", "id")]
        )
        events, rejected = parse_customers(table, now=now, zone=zone)
    elif kind == "orders":
        table = read_table(
            path,
            fields=ORDER_FIELDS,
            mapping=options.mapping,
            require_any=[("order_id",), ("email", "customer_id"), ("placed_at",)],
        )
        events, rejected = parse_orders(table, currency=currency, zone=zone)
    else:
        raise InvalidInput(f"unknown import kind {kind!r}", field="kind")
    _start(report, table, rejected, len(events))
    if not options.dry_run:
        _ingest_batches(uows, events, report, options, progress)
    report.rejected.sort(key=lambda r: r.line)
    return report


def _start(report: ImportReport, table: CsvTable, rejected: list[RejectedRow], records: int) -> None:
    report.rows = len(table.rows) + len(table.malformed)
    report.records = records
    report.rejected = [RejectedRow(line=line, column=None, reason=why) for line, why in table.malformed]
    report.rejected.extend(rejected)
    report.rejected.sort(key=lambda r: r.line)


def _reject(row: CsvRow, exc: DomainError) -> RejectedRow:
    return RejectedRow(line=row.line, column=exc.field, reason=exc.message)


def _message_id(kind: str, key: str, digest: str | None = None) -> str:
    # Message ids are at most 200 characters; a very long natural key is replaced by its hash.
    if len(key) > 120:
        key = "sha256-" + sha256_hex(key)[:32]
    return f"{SOURCE}:{kind}:{key}" + (f":{digest}" if digest else "")


def _text(row: CsvRow, name: str, limit: int) -> str | None:
    value = row.get(name)
    if value is not None and len(value) > limit:
        raise InvalidInput(
            f"{row.column(name)} is {len(value)} characters long; at most {limit} fit", field=row.column(name)
        )
    return value


# -- customers ------------------------------------------------------------------------------------


def parse_customers(
    table: CsvTable, *, now: datetime, zone: ZoneInfo
) -> tuple[list[tuple[int, IncomingEvent]], list[RejectedRow]]:
    """Each valid row as (line, Identify event); each invalid row as a rejection naming its column."""
    events: list[tuple[int, IncomingEvent]] = []
    rejected: list[RejectedRow] = []
    for row in table.rows:
        try:
            events.append((row.line, customer_event(row, now=now, zone=zone)))
        except DomainError as exc:
            rejected.append(_reject(row, exc))
    return events, rejected


def customer_event(row: CsvRow, *, now: datetime, zone: ZoneInfo) -> IncomingEvent:
    """The Identify event a customer row means; InvalidInput names the file's column at fault."""
    raw_email = row.get("email")
    email = normalize_email(raw_email, field=row.column("email")) if raw_email else None
    user_id = _text(row, "id", 200)
    if email is None and user_id is None:
        raise InvalidInput(
            "the row has neither an email address nor a customer id", field=row.column("email")
        )
    profile: dict[str, Any] = {}
    first, last = _text(row, "first_name", 200), _text(row, "last_name", 200)
    full = row.get("name")
    if full and not (first or last):
        first, _, rest = full.partition(" ")
        last = rest.strip() or None
    if first:
        profile["first_name"] = first[:200]
    if last:
        profile["last_name"] = last[:200]
    if (phone := _text(row, "phone", 50)) is not None:
        profile["phone"] = phone
    if (locale := row.get("locale")) is not None:
        profile["locale"] = normalize_locale(locale, field=row.column("locale"))
    if (tz := row.get("timezone")) is not None:
        profile["timezone"] = normalize_timezone(tz, field=row.column("timezone"))
    if (country := row.get("country")) is not None:
        profile["country"] = normalize_country(country, field=row.column("country"))
    if (city := _text(row, "city", 200)) is not None:
        profile["city"] = city
    if (currency := row.get("currency")) is not None:
        profile["currency"] = normalize_currency(currency, field=row.column("currency"))
    if (birthday := row.get("birthday")) is not None:
        profile["birthday"] = parse_date(birthday, column=row.column("birthday"))
    consent_raw = row.get("consent")
    consent = parse_consent(consent_raw, column=row.column("consent")) if consent_raw else None
    created = row.get("created_at")
    occurred = parse_datetime(created, column=row.column("created_at"), zone=zone) if created else now
    if row.custom:
        profile["properties"] = dict(row.custom)
    traits = {k: (val.isoformat() if isinstance(val, date) else val) for k, val in profile.items()}
    if consent is not None:
        traits["email_consent"] = consent
    # The digest makes a changed row a new fact, while the same row imported again is a duplicate.
    digest = sha256_hex(json.dumps([email, user_id, traits], sort_keys=True, default=str))[:16]
    return IncomingEvent(
        message_id=_message_id("customer", user_id or email or "", digest),
        type="identify",
        name=v.IDENTIFY,
        occurred_at=occurred,
        source=SOURCE,
        user_id=user_id,
        email=email,
        properties={"traits": {**({"email": email} if email else {}), **traits}},
        profile=profile,
        consent=consent,
        consent_at=now,
    )


# -- products -------------------------------------------------------------------------------------


def parse_products(table: CsvTable, currency: str) -> tuple[list[ProductIn], list[RejectedRow]]:
    """Each valid row as a catalog product; each invalid row as a rejection naming its column."""
    products: list[ProductIn] = []
    rejected: list[RejectedRow] = []
    for row in table.rows:
        try:
            products.append(product_in(row, currency))
        except DomainError as exc:
            rejected.append(_reject(row, exc))
    return products, rejected


_IN_STOCK_WORDS = {"in stock": True, "instock": True, "out of stock": False, "outofstock": False}


def product_in(row: CsvRow, currency: str) -> ProductIn:
    """The catalog product a products row describes; unstated fields keep what the catalog has."""
    external_id = _text(row, "id", 200) or _text(row, "sku", 200)
    if external_id is None:
        raise InvalidInput("the row has no product id", field=row.column("id"))
    if (code := row.get("currency")) is not None:
        currency = normalize_currency(code, field=row.column("currency"))
    price = row.get("price")
    price_minor = None if price is None else parse_money(price, currency, column=row.column("price"))
    in_stock: bool | None = None
    if (stock := row.get("in_stock")) is not None:
        word = stock.lower().removeprefix("https://schema.org/").removeprefix("http://schema.org/")
        if word in _IN_STOCK_WORDS:
            in_stock = _IN_STOCK_WORDS[word]
        elif word.lstrip("-").isdecimal():
            # A stock count: anything on hand is in stock.
            in_stock = int(word) > 0
        else:
            in_stock = parse_bool(stock, column=row.column("in_stock"))
    categories = None
    if (raw := row.get("categories")) is not None:
        categories = [c.strip() for c in raw.replace(";", "|").split("|") if c.strip()]
    return ProductIn(
        external_id=external_id,
        sku=_text(row, "sku", 200),
        title=row.get("title"),
        url=row.get("url"),
        image_url=row.get("image_url"),
        price_minor=price_minor,
        currency=currency if price_minor is not None else None,
        categories=categories,
        in_stock=in_stock,
    )


# -- orders ---------------------------------------------------------------------------------------


def parse_orders(
    table: CsvTable, *, currency: str, zone: ZoneInfo
) -> tuple[list[tuple[int, IncomingEvent]], list[RejectedRow]]:
    """Rows grouped by order id into Order Completed events; an order with one bad line is rejected whole."""
    groups: dict[str, list[CsvRow]] = {}
    rejected: list[RejectedRow] = []
    for row in table.rows:
        order_id = row.get("order_id")
        if order_id is None:
            rejected.append(
                RejectedRow(line=row.line, column=row.column("order_id"), reason="the order id is empty")
            )
            continue
        groups.setdefault(order_id, []).append(row)
    events: list[tuple[int, IncomingEvent]] = []
    for order_id, rows in groups.items():
        event, problems = _order_event(order_id, rows, currency=currency, zone=zone)
        if event is not None:
            events.append((rows[0].line, event))
            continue
        bad_lines = {p.line for p in problems}
        first_bad = min(bad_lines)
        rejected.extend(problems)
        rejected.extend(
            RejectedRow(
                line=row.line,
                column=None,
                reason=f"order {order_id} was not imported because its line {first_bad} is invalid",
            )
            for row in rows
            if row.line not in bad_lines
        )
    return events, rejected


def _order_event(
    order_id: str, rows: Sequence[CsvRow], *, currency: str, zone: ZoneInfo
) -> tuple[IncomingEvent | None, list[RejectedRow]]:
    problems: list[RejectedRow] = []
    # Order-level values: the first row that states one sets it; a row that disagrees is an error.
    stated: dict[str, CsvRow] = {}
    for row in rows:
        for name in _ORDER_LEVEL:
            value = row.get(name)
            if value is None:
                continue
            first = stated.setdefault(name, row)
            if first.get(name) != value:
                problems.append(
                    RejectedRow(
                        line=row.line,
                        column=row.column(name),
                        reason=f"order {order_id}: {row.column(name)} is {value!r} here "
                        f"but {first.get(name)!r} on line {first.line}",
                    )
                )
    header: dict[str, Any] = {}
    for name, row in stated.items():
        try:
            header[name] = _order_value(name, row, currency=currency, zone=zone)
        except DomainError as exc:
            problems.append(_reject(row, exc))
    if "currency" in header:
        currency = header["currency"]
    if len(order_id) > 200:
        problems.append(
            RejectedRow(line=rows[0].line, column=rows[0].column("order_id"), reason="order id is too long")
        )
    if "email" not in stated and "customer_id" not in stated:
        problems.append(
            RejectedRow(
                line=rows[0].line,
                column=rows[0].column("email"),
                reason=f"order {order_id} has neither a customer email nor a customer id",
            )
        )
    if "placed_at" not in stated:
        problems.append(
            RejectedRow(
                line=rows[0].line,
                column=rows[0].column("placed_at"),
                reason=f"order {order_id} has no order date",
            )
        )
    lines: list[OrderLineIn] = []
    for row in rows:
        try:
            lines.append(_order_line(row, currency))
        except DomainError as exc:
            problems.append(_reject(row, exc))
    if problems:
        return None, problems
    total = header.get("total")
    if total is None:
        total = sum(line.price_minor * line.quantity for line in lines)
    draft = OrderDraft(
        external_id=order_id,
        currency=currency,
        total_minor=total,
        subtotal_minor=header.get("subtotal"),
        tax_minor=header.get("tax"),
        shipping_minor=header.get("shipping"),
        discount_minor=header.get("discount"),
        coupon=header.get("coupon"),
        lines=lines,
    )
    return IncomingEvent(
        message_id=_message_id("order", order_id),
        type="track",
        name=v.ORDER_COMPLETED,
        occurred_at=header["placed_at"],
        source=SOURCE,
        user_id=header.get("customer_id"),
        email=header.get("email"),
        properties=order_properties(draft),
        order=draft,
    ), []


def _order_value(name: str, row: CsvRow, *, currency: str, zone: ZoneInfo) -> Any:
    value = row.get(name) or ""
    column = row.column(name)
    if name == "email":
        return normalize_email(value, field=column)
    if name == "customer_id":
        return _text(row, name, 200)
    if name == "placed_at":
        return parse_datetime(value, column=column, zone=zone)
    if name == "currency":
        return normalize_currency(value, field=column)
    if name == "coupon":
        return _text(row, name, 100)
    code = normalize_currency(row.get("currency") or currency, field=row.column("currency"))
    return parse_money(value, code, column=column)


def _order_line(row: CsvRow, currency: str) -> OrderLineIn:
    quantity = row.get("quantity")
    price = row.get("price")
    return OrderLineIn(
        product_external_id=_text(row, "product_id", 200) or _text(row, "sku", 200),
        sku=_text(row, "sku", 200),
        title=row.get("title"),
        category=_text(row, "category", 200),
        quantity=1 if quantity is None else parse_quantity(quantity, column=row.column("quantity")),
        price_minor=0 if price is None else parse_money(price, currency, column=row.column("price")),
    )


def order_properties(draft: OrderDraft) -> dict[str, Any]:
    """Segment's Order Completed properties for an order (amounts in major units, as Segment sends them)."""

    def major(minor: int) -> float:
        return float(from_minor(minor, draft.currency))

    props: dict[str, Any] = {
        "order_id": draft.external_id,
        "total": major(draft.total_minor),
        "currency": draft.currency,
        "products": [
            {
                key: val
                for key, val in (
                    ("product_id", line.product_external_id),
                    ("sku", line.sku),
                    ("name", line.title),
                    ("category", line.category),
                    ("price", major(line.price_minor)),
                    ("quantity", line.quantity),
                )
                if val is not None
            }
            for line in draft.lines
        ],
    }
    for key, minor in (
        ("subtotal", draft.subtotal_minor),
        ("tax", draft.tax_minor),
        ("shipping", draft.shipping_minor),
        ("discount", draft.discount_minor),
    ):
        if minor is not None:
            props[key] = major(minor)
    if draft.coupon:
        props["coupon"] = draft.coupon
    return props


# -- writing --------------------------------------------------------------------------------------


def _ingest_batches(
    uows: UowFactory,
    events: Sequence[tuple[int, IncomingEvent]],
    report: ImportReport,
    options: CsvOptions,
    progress: Progress | None,
) -> None:
    total = len(events)
    for start in range(0, total, options.batch_size):
        chunk = events[start : start + options.batch_size]
        try:
            with uows() as uow:
                result = ingest(uow, [event for _, event in chunk], notify=options.notify)
            report.imported += result.accepted
            report.unchanged += result.duplicates
        except DomainError:
            # One record the row checks let through failed the batch: apply the batch one by one,
            # so only that record is rejected and the rest of the file goes on.
            for line, event in chunk:
                try:
                    with uows() as uow:
                        result = ingest(uow, [event], notify=options.notify)
                    report.imported += result.accepted
                    report.unchanged += result.duplicates
                except DomainError as exc:
                    report.rejected.append(RejectedRow(line=line, column=exc.field, reason=exc.message))
        report.batches += 1
        if progress is not None:
            progress(min(start + options.batch_size, total), total)


def _upsert_batches(
    uows: UowFactory,
    products: Sequence[ProductIn],
    report: ImportReport,
    batch_size: int,
    progress: Progress | None,
) -> None:
    total = len(products)
    for start in range(0, total, batch_size):
        chunk = products[start : start + batch_size]
        with uows() as uow:
            result = catalog.upsert_products(uow.session, chunk, uow.now())
        distinct = len({p.external_id for p in chunk})
        report.imported += result.created + result.updated
        report.unchanged += distinct - result.created - result.updated
        report.batches += 1
        if progress is not None:
            progress(min(start + batch_size, total), total)
