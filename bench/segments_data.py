"""A large synthetic shop for the segment benchmark, resampled from the real Online Retail customers.

Each generated buyer copies one real customer's behaviour (how many invoices, the days between them, the
products, quantities and prices of each invoice), moved to a random start in the two years before `now`
and stretched by a small per-contact factor; orders that would fall after `now` are not placed. Around
the orders come the browsing events a shop's site sends (Product Viewed, Product Added, Checkout Started
before each order; sessions that end without an order, some of them recent abandoned carts; Page Viewed,
including a pricing page), and email engagement (a newsletter every four weeks to subscribed contacts: Email
Sent, Opened with a few contacts' machine opens flagged `machine_open`, Clicked). Prospects without
orders browse and get email too. Countries follow the real customers' countries; consent, birthdays and
cities are drawn at fixed rates.

Rows are written in bulk, not through the ingest path: executemany of plain tuples on SQLite, COPY on
PostgreSQL. Contact roll-ups (order count, revenue, average, first and last order, last site activity,
open, click and event) are computed from the very rows written, so they agree with the orders table.

Order sizes: the real invoices are wholesale-sized (about 21 lines each); a generated order keeps at most
`MAX_LINES` of its invoice's lines (a random subset) and its total is the sum of the lines it keeps, so
the shop stays near two million events and the orders stay consistent with their lines.

Run: python bench/segments_data.py [--url URL] [--contacts N] [--seed S]. The last line printed is one
JSON object with the counts and the speed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Table, text

from mailwright.catalog.models import Product
from mailwright.contacts.models import Contact, ContactIdentity
from mailwright.core.db import make_engine, table_of
from mailwright.events import vocabulary as v
from mailwright.events.imports.geo import country_code, locale_for, timezone_for
from mailwright.events.imports.online_retail import find_parquet, load_frame
from mailwright.events.models import Event
from mailwright.migrations.runner import upgrade
from mailwright.orders.models import Order, OrderLine

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "online_retail"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
DEFAULT_URL = f"sqlite:///{REPO / 'var' / 'bench' / 'segments_shop.db'}"
CURRENCY = "GBP"
SOURCE = "bench"
MAX_LINES = 4
BUYER_SHARE = 0.6
HISTORY_DAYS = 730
# Consent of each contact: subscribed, unsubscribed, pending (double opt-in sent), never subscribed.
CONSENT = (("subscribed", 0.62), ("unsubscribed", 0.1), ("pending", 0.04), ("never_subscribed", 0.24))
# Newsletters: one every NEWSLETTER_EVERY days over the last NEWSLETTER_SPAN days.
NEWSLETTER_EVERY, NEWSLETTER_SPAN = 28, 168
MACHINE_OPENER_SHARE = 0.12
BROWSE_SESSIONS_MEAN = 1.8
PAGES = ("/", "/pricing", "/blog", "/about", "/shipping")
CITIES = {
    "GB": ("London", "Manchester", "Birmingham", "Leeds", "Glasgow", "Bristol"),
    "DE": ("Berlin", "Hamburg", "Munich", "Cologne"),
    "FR": ("Paris", "Lyon", "Marseille", "Lille"),
    "IE": ("Dublin", "Cork"),
}
# Online Retail has no categories: one from the words of the product's description, first match wins.
CATEGORY_WORDS = {
    "Christmas": "CHRISTMAS",
    "Candles": "CANDLE",
    "Lighting": "LIGHT LANTERN",
    "Bags": "BAG",
    "Kitchen": "MUG CUP PLATE BOWL TEA LUNCH CAKE",
    "Cards and wrap": "CARD WRAP PAPER",
    "Home textiles": "CUSHION TOWEL",
    "Decor": "HEART SIGN FRAME CLOCK",
    "Storage": "BOX TIN JAR",
    "Toys": "TOY DOLL GAME",
    "Jewellery": "NECKLACE BRACELET EARRING",
    "Garden": "GARDEN",
}
DAY = 86_400.0


def category_of(title: str) -> str:
    """The category of a product from its description."""
    upper = title.upper()
    return next(
        (name for name, words in CATEGORY_WORDS.items() if any(w in upper for w in words.split())), "Gifts"
    )


@dataclass(frozen=True)
class Invoice:
    """One real invoice: seconds after its customer's first invoice, and its lines (product index, qty, price)."""

    offset: float
    lines: tuple[tuple[int, int, int], ...]


@dataclass
class Behaviour:
    """What is resampled: the real customers' invoice timelines, the products and the countries."""

    customers: list[list[Invoice]]
    product_codes: list[str]
    product_titles: list[str]
    product_prices: list[int]
    product_categories: list[str]
    countries: list[str | None]
    country_weights: np.ndarray[Any, np.dtype[np.float64]]


def load_behaviour(path: Path) -> Behaviour:
    """Read the Online Retail purchases into per-customer invoice timelines."""
    frame, _ = load_frame(find_parquet(path))
    codes = sorted(frame["StockCode"].unique().tolist())
    index = {c: i for i, c in enumerate(codes)}
    titles = frame.drop_duplicates("StockCode").set_index("StockCode")["Description"]
    prices = frame.groupby("StockCode")["UnitPrice"].median()
    product_titles = [str(titles.get(c, "")) or c for c in codes]
    product_prices = [max(1, round(float(prices[c]) * 100)) for c in codes]
    stamps = frame["placed_at"].astype("int64").to_numpy() / 1e9
    customer_ids = frame["customer"].tolist()
    invoices = frame["InvoiceNo"].tolist()
    stock = [index[c] for c in frame["StockCode"].tolist()]
    quantities = frame["Quantity"].astype("int64").tolist()
    unit = [max(1, round(p * 100)) for p in frame["UnitPrice"].astype(float).tolist()]
    customers: list[list[Invoice]] = []
    current: str | None = None
    first = 0.0
    lines: list[tuple[int, int, int]] = []
    invoice: str | None = None
    offset = 0.0
    for i, customer in enumerate(customer_ids):
        if invoice is not None and (invoices[i] != invoice or customer != current):
            customers[-1].append(Invoice(offset, tuple(lines)))
            lines = []
        if customer != current:
            customers.append([])
            current, first = customer, float(stamps[i])
        if invoices[i] != invoice or not lines:
            invoice, offset = invoices[i], float(stamps[i]) - first
        lines.append((stock[i], min(quantities[i], 24), unit[i]))
    if invoice is not None:
        customers[-1].append(Invoice(offset, tuple(lines)))
    by_country = frame.drop_duplicates("customer")["Country"].map(lambda c: country_code(str(c)))
    counts = by_country.value_counts(dropna=False)
    weights = counts.to_numpy(dtype=np.float64)
    return Behaviour(
        customers=customers,
        product_codes=codes,
        product_titles=product_titles,
        product_prices=product_prices,
        product_categories=[category_of(t) for t in product_titles],
        countries=[None if isinstance(c, float) else c for c in counts.index.tolist()],
        country_weights=weights / weights.sum(),
    )


class Writer:
    """Bulk rows into tables: executemany of tuples on SQLite, COPY on PostgreSQL."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.written: dict[str, int] = {}

    def stamp(self, seconds: float) -> Any:
        """A timestamp value as the column type stores it (SQLite: UtcDateTime's text form)."""
        moment = datetime.fromtimestamp(seconds, UTC)
        if self.dialect == "sqlite":
            return moment.replace(tzinfo=None).isoformat(" ", "microseconds")
        return moment

    def day(self, value: date) -> Any:
        """A date value as stored."""
        return value.isoformat() if self.dialect == "sqlite" else value

    def flag(self, value: bool) -> Any:
        """A boolean as stored."""
        return int(value) if self.dialect == "sqlite" else value

    def write(self, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        """Insert the rows (values in `columns` order)."""
        if not rows:
            return
        names = ", ".join(columns)
        if self.dialect == "postgresql":
            raw = self.connection.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            self.connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
        self.written[table.name] = self.written.get(table.name, 0) + len(rows)


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


@dataclass
class _Rollup:
    order_count: int = 0
    revenue: int = 0
    first_order: float | None = None
    last_order: float | None = None
    last_site: float | None = None
    last_open: float | None = None
    last_click: float | None = None
    last_event: float | None = None

    def saw(self, kind: str, at: float) -> None:
        self.last_event = at if self.last_event is None else max(self.last_event, at)
        if kind == "site":
            self.last_site = at if self.last_site is None else max(self.last_site, at)
        elif kind == "open":
            self.last_open = at if self.last_open is None else max(self.last_open, at)
        elif kind == "click":
            self.last_click = at if self.last_click is None else max(self.last_click, at)


@dataclass
class _Chunk:
    contacts: list[tuple[Any, ...]] = field(default_factory=list)
    identities: list[tuple[Any, ...]] = field(default_factory=list)
    orders: list[tuple[Any, ...]] = field(default_factory=list)
    lines: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)


def _columns(names: str) -> tuple[str, ...]:
    return tuple(names.split())


EVENT_COLUMNS = _columns("id message_id contact_id type name properties occurred_at received_at source")
ORDER_COLUMNS = _columns(
    "id external_id contact_id placed_at status currency total_minor refunded_minor source updated_at"
)
LINE_COLUMNS = _columns("id order_id product_external_id sku title category quantity price_minor")
IDENTITY_COLUMNS = _columns("id kind value contact_id created_at")
# In the order ShopGenerator.contact builds each row.
CONTACT_COLUMNS = _columns(
    "id email external_id first_name locale timezone country city currency birthday signup_source "
    "consent_status consent_updated_at consent_source properties order_count revenue_minor "
    "average_order_value_minor first_order_at last_order_at last_site_activity_at last_open_at "
    "last_click_at last_event_at created_at updated_at"
)
FIRST_NAMES = ("Ann", "Ben", "Chloe", "Dev", "Emma", "Finn", "Grace", "Hugo", "Isla", "Jack", "Kate", "Liam")


class ShopGenerator:
    """Generates contacts in chunks and hands each chunk's rows to a writer."""

    def __init__(
        self, behaviour: Behaviour, writer: Writer, *, seed: int, now: datetime, first_ids: dict[str, int]
    ):
        self.b = behaviour
        self.w = writer
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.now = now.timestamp()
        self.ids = dict(first_ids)
        self.newsletters = [
            self.now - NEWSLETTER_SPAN * DAY + k * NEWSLETTER_EVERY * DAY + 9 * 3600
            for k in range(NEWSLETTER_SPAN // NEWSLETTER_EVERY)
        ]
        self.counts: dict[str, int] = {}
        self.buyers = 0

    def _next(self, table: str) -> int:
        value = self.ids[table]
        self.ids[table] = value + 1
        return value

    def _event(
        self,
        chunk: _Chunk,
        rollup: _Rollup,
        contact_id: int,
        name: str,
        at: float,
        props: dict[str, Any],
        kind: str,
    ) -> None:
        event_id = self._next("events")
        stamp = self.w.stamp(at)
        event_type = "page" if name == v.PAGE_VIEWED else "track"
        source = "mailwright" if name.startswith("Email ") else SOURCE
        chunk.events.append(
            (
                event_id,
                f"gen{self.seed}:{event_id}",
                contact_id,
                event_type,
                name,
                _json(props),
                stamp,
                stamp,
                source,
            )
        )
        rollup.saw(kind, at)
        self.counts[name] = self.counts.get(name, 0) + 1

    def _product(self, p: int, quantity: int | None = None) -> dict[str, Any]:
        props: dict[str, Any] = {
            "product_id": self.b.product_codes[p],
            "sku": self.b.product_codes[p],
            "name": self.b.product_titles[p],
            "category": self.b.product_categories[p],
            "price": self.b.product_prices[p] / 100,
        }
        if quantity is not None:
            props["quantity"] = quantity
        return props

    def _session(
        self, chunk: _Chunk, rollup: _Rollup, contact_id: int, at: float, products: list[int]
    ) -> float:
        """A browsing session ending at `at`: a page, product views and cart adds; returns its end."""
        rng = self.rng
        t = at - float(rng.uniform(300, 2400))
        page = PAGES[int(rng.integers(0, len(PAGES)))]
        self._event(
            chunk,
            rollup,
            contact_id,
            v.PAGE_VIEWED,
            t,
            {"path": page, "url": f"https://shop.example{page}"},
            "site",
        )
        for p in products:
            t += float(rng.uniform(20, 240))
            self._event(chunk, rollup, contact_id, v.PRODUCT_VIEWED, t, self._product(p), "site")
        return t

    def contact(self, chunk: _Chunk) -> None:
        """One contact with its history."""
        rng, b = self.rng, self.b
        contact_id = self._next("contacts")
        rollup = _Rollup()
        buyer = rng.random() < BUYER_SHARE
        stretch = float(rng.lognormal(0.0, 0.25))
        placed: list[float] = []
        if buyer:
            template = b.customers[int(rng.integers(0, len(b.customers)))]
            start = self.now - float(rng.uniform(0, HISTORY_DAYS)) * DAY
            for invoice in template:
                at = start + invoice.offset * stretch
                if at >= self.now:
                    break
                placed.append(at)
                self._order(chunk, rollup, contact_id, at, invoice)
            created = (placed[0] if placed else start) - float(rng.uniform(0, 60)) * DAY
        else:
            created = self.now - float(rng.uniform(1, HISTORY_DAYS)) * DAY
        # Sessions that end without an order; recent ones are more likely (an exponential look-back).
        for _ in range(int(rng.poisson(BROWSE_SESSIONS_MEAN))):
            at = self.now - float(rng.exponential(120)) * DAY
            if at <= created:
                at = created + float(rng.uniform(0, 1)) * (self.now - created)
            viewed = [int(p) for p in rng.integers(0, len(b.product_codes), size=int(rng.integers(1, 3)))]
            t = self._session(chunk, rollup, contact_id, at, viewed)
            if rng.random() < 0.3:
                t += float(rng.uniform(10, 120))
                self._event(
                    chunk, rollup, contact_id, v.PRODUCT_ADDED, t, self._product(viewed[0], 1), "site"
                )
                if rng.random() < 0.5:
                    t += float(rng.uniform(30, 300))
                    self._event(
                        chunk,
                        rollup,
                        contact_id,
                        v.CHECKOUT_STARTED,
                        t,
                        {"products": [self._product(viewed[0], 1)], "currency": CURRENCY},
                        "site",
                    )
        consent = self._pick([c for c, _ in CONSENT], [w for _, w in CONSENT])
        if consent == "subscribed":
            self._emails(chunk, rollup, contact_id, created)
        country = self._pick(b.countries, list(b.country_weights))
        cities = CITIES.get(country or "")
        city = cities[int(rng.integers(0, len(cities)))] if cities and rng.random() < 0.7 else None
        birthday = (
            self.w.day(date(1950, 1, 1) + timedelta(days=int(rng.integers(0, 365 * 55))))
            if rng.random() < 0.4
            else None
        )
        stamp_created = self.w.stamp(created)
        external = f"gen{self.seed}-{contact_id}"
        email = f"{external}@example.com"
        average = rollup.revenue // rollup.order_count if rollup.order_count else 0
        self.buyers += rollup.order_count > 0
        chunk.contacts.append(
            (
                contact_id,
                email,
                external,
                FIRST_NAMES[contact_id % len(FIRST_NAMES)],
                locale_for(country),
                timezone_for(country),
                country,
                city,
                CURRENCY,
                birthday,
                "checkout" if buyer else "popup",
                consent,
                stamp_created,
                SOURCE,
                _json({"vip_tier": "gold"} if rollup.revenue > 200_000 else {}),
                rollup.order_count,
                rollup.revenue,
                average,
                None if rollup.first_order is None else self.w.stamp(rollup.first_order),
                None if rollup.last_order is None else self.w.stamp(rollup.last_order),
                None if rollup.last_site is None else self.w.stamp(rollup.last_site),
                None if rollup.last_open is None else self.w.stamp(rollup.last_open),
                None if rollup.last_click is None else self.w.stamp(rollup.last_click),
                None if rollup.last_event is None else self.w.stamp(rollup.last_event),
                stamp_created,
                self.w.stamp(max(created, rollup.last_event or created)),
            )
        )
        for kind, value in (("user_id", external), ("email", email)):
            chunk.identities.append(
                (self._next("contact_identities"), kind, value, contact_id, stamp_created)
            )

    def _pick(self, values: Sequence[Any], weights: Sequence[float]) -> Any:
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        return values[
            min(
                int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1], side="right")),
                len(values) - 1,
            )
        ]

    def _order(self, chunk: _Chunk, rollup: _Rollup, contact_id: int, at: float, invoice: Invoice) -> None:
        rng = self.rng
        lines = list(invoice.lines)
        if len(lines) > MAX_LINES:
            keep = sorted(rng.choice(len(lines), size=MAX_LINES, replace=False).tolist())
            lines = [lines[i] for i in keep]
        # The visit that led to the order: views of what was bought, adds to cart, checkout.
        t = self._session(chunk, rollup, contact_id, at - 900, [p for p, _, _ in lines[:1]])
        for p, quantity, _ in lines[:1]:
            t += float(rng.uniform(10, 90))
            self._event(chunk, rollup, contact_id, v.PRODUCT_ADDED, t, self._product(p, quantity), "site")
        order_id = self._next("orders")
        external = f"gen{self.seed}-{order_id}"
        total = sum(quantity * price for _, quantity, price in lines)
        products = [{**self._product(p, quantity), "price": price / 100} for p, quantity, price in lines]
        self._event(
            chunk,
            rollup,
            contact_id,
            v.CHECKOUT_STARTED,
            at - 120,
            {"products": products, "value": total / 100, "currency": CURRENCY},
            "site",
        )
        self._event(
            chunk,
            rollup,
            contact_id,
            v.ORDER_COMPLETED,
            at,
            {"order_id": external, "total": total / 100, "currency": CURRENCY, "products": products},
            "site",
        )
        stamp = self.w.stamp(at)
        chunk.orders.append(
            (order_id, external, contact_id, stamp, "placed", CURRENCY, total, 0, SOURCE, stamp)
        )
        for p, quantity, price in lines:
            chunk.lines.append(
                (
                    self._next("order_lines"),
                    order_id,
                    self.b.product_codes[p],
                    self.b.product_codes[p],
                    self.b.product_titles[p],
                    self.b.product_categories[p],
                    quantity,
                    price,
                )
            )
        rollup.order_count += 1
        rollup.revenue += total
        rollup.first_order = at if rollup.first_order is None else min(rollup.first_order, at)
        rollup.last_order = at if rollup.last_order is None else max(rollup.last_order, at)

    def _emails(self, chunk: _Chunk, rollup: _Rollup, contact_id: int, created: float) -> None:
        rng = self.rng
        machine = rng.random() < MACHINE_OPENER_SHARE
        open_rate = float(rng.beta(2, 5))
        for k, sent in enumerate(self.newsletters):
            if sent <= created:
                continue
            base = {
                "message_id": f"gen{self.seed}-nl{k}-{contact_id}",
                "template": "newsletter",
                "source_kind": "campaign",
                "source_id": f"newsletter-{k}",
            }
            self._event(chunk, rollup, contact_id, v.EMAIL_SENT, sent, base, "sent")
            if machine:
                self._event(
                    chunk,
                    rollup,
                    contact_id,
                    v.EMAIL_OPENED,
                    sent + float(rng.uniform(2, 20)),
                    {**base, "machine_open": True, "user_agent": "Mozilla/5.0"},
                    "open",
                )
            if rng.random() < open_rate:
                opened = sent + float(rng.exponential(6 * 3600))
                self._event(
                    chunk,
                    rollup,
                    contact_id,
                    v.EMAIL_OPENED,
                    opened,
                    {**base, "machine_open": False, "user_agent": "Mozilla/5.0"},
                    "open",
                )
                if rng.random() < 0.15:
                    self._event(
                        chunk,
                        rollup,
                        contact_id,
                        v.EMAIL_CLICKED,
                        opened + float(rng.uniform(5, 120)),
                        {**base, "url": "https://shop.example/new", "link_index": 0, "bot": False},
                        "click",
                    )

    def flush(self, chunk: _Chunk) -> None:
        """Write one chunk's rows, parents first."""
        self.w.write(table_of(Contact), CONTACT_COLUMNS, chunk.contacts)
        self.w.write(table_of(ContactIdentity), IDENTITY_COLUMNS, chunk.identities)
        self.w.write(table_of(Order), ORDER_COLUMNS, chunk.orders)
        self.w.write(table_of(OrderLine), LINE_COLUMNS, chunk.lines)
        self.w.write(table_of(Event), EVENT_COLUMNS, chunk.events)


def _products(writer: Writer, b: Behaviour, now: datetime, first_id: int, existing: set[str]) -> None:
    stamp = writer.stamp(now.timestamp())
    rows = [
        (
            first_id + i,
            code,
            code,
            b.product_titles[i],
            f"https://shop.example/products/{code}",
            b.product_prices[i],
            CURRENCY,
            _json([b.product_categories[i]]),
            writer.flag(True),
            stamp,
            stamp,
        )
        for i, code in enumerate(b.product_codes)
        if code not in existing
    ]
    columns = (
        "id",
        "external_id",
        "sku",
        "title",
        "url",
        "price_minor",
        "currency",
        "categories",
        "in_stock",
        "created_at",
        "updated_at",
    )
    writer.write(table_of(Product), columns, rows)


TABLES = ("contacts", "contact_identities", "orders", "order_lines", "events", "products")
# The tables that get millions of rows: on PostgreSQL their secondary indexes are built once at the end.
BULK_TABLES = ("events", "order_lines", "orders", "contact_identities")


@contextmanager
def _indexes_built_after(connection: Connection, tables: Sequence[str]) -> Iterator[None]:
    """On PostgreSQL, drop these tables' unique and foreign-key constraints and secondary indexes; rebuild after.

    An insert into the events table with its four indexes ran 12x slower than into the bare table here,
    and each row's foreign-key check costs a look-up too; one sorted build per index and one validating
    join per foreign key at the end are much cheaper. It all happens in the caller's transaction, so a
    failure rolls the constraints back too, and re-adding them checks every row. Primary keys stay.
    SQLite: nothing changes.
    """
    if connection.dialect.name != "postgresql":
        yield
        return
    constraints = connection.execute(
        text(
            "SELECT c.conrelid::regclass::text, c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
            "WHERE c.contype IN ('u', 'f') AND c.conrelid::regclass::text = ANY(:tables)"
        ),
        {"tables": list(tables)},
    ).all()
    indexes = connection.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
            "AND i.tablename = ANY(:tables) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ),
        {"tables": list(tables)},
    ).all()
    for table, name, _ in constraints:
        connection.execute(text(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"'))
    for name, _ in indexes:
        connection.execute(text(f'DROP INDEX "{name}"'))
    yield
    for _, definition in indexes:
        connection.execute(text(definition))
    for table, name, definition in constraints:
        connection.execute(text(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'))


def generate(
    url: str,
    contacts: int = 100_000,
    seed: int = 0,
    now: datetime = NOW,
    *,
    data: Path = DATA,
    chunk_size: int = 2_000,
    migrate: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Fill the database at `url` with a generated shop of `contacts` contacts; returns counts and timings."""
    if contacts < 1:
        raise ValueError("contacts must be at least 1")
    started = time.perf_counter()
    behaviour = load_behaviour(data)
    loaded = time.perf_counter() - started
    engine = make_engine(url, sqlite_synchronous="OFF")
    if migrate:
        upgrade(engine)
    generator: ShopGenerator | None = None
    try:
        with engine.begin() as connection:
            first_ids = {
                t: int(connection.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {t}")).scalar_one())
                for t in TABLES
            }
            if connection.execute(
                text("SELECT count(*) FROM events WHERE message_id LIKE :p"), {"p": f"gen{seed}:%"}
            ).scalar_one():
                raise ValueError(f"this database already holds a generated shop with seed {seed}")
            writer = Writer(connection)
            existing = {str(r[0]) for r in connection.execute(text("SELECT external_id FROM products"))}
            _products(writer, behaviour, now, first_ids["products"], existing)
            generator = ShopGenerator(behaviour, writer, seed=seed, now=now, first_ids=first_ids)
            with _indexes_built_after(connection, BULK_TABLES):
                for start in range(0, contacts, chunk_size):
                    chunk = _Chunk()
                    for _ in range(min(chunk_size, contacts - start)):
                        generator.contact(chunk)
                    generator.flush(chunk)
                    if progress:
                        print(f"  {start + chunk_size:,} / {contacts:,} contacts", file=sys.stderr, end="\r")
            if connection.dialect.name == "postgresql":
                for t in TABLES:
                    connection.execute(
                        text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))")
                    )
        # Fresh statistics, so the planners see a big shop and not the empty one they were made for.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    assert generator is not None
    written = generator.w.written
    return {
        "url": engine.url.render_as_string(hide_password=True),
        "dialect": engine.dialect.name,
        "seed": seed,
        "now": now.isoformat(),
        "contacts": written.get("contacts", 0),
        "customers": generator.buyers,
        "orders": written.get("orders", 0),
        "order_lines": written.get("order_lines", 0),
        "events": written.get("events", 0),
        "events_by_name": dict(sorted(generator.counts.items())),
        "products": written.get("products", 0),
        "seconds_reading_data": round(loaded, 2),
        "seconds": round(seconds, 2),
        "rows_per_second": round(sum(written.values()) / max(seconds - loaded, 1e-9)),
    }


def time_rfm(url: str, now: datetime = NOW) -> dict[str, Any]:
    """Seconds to recompute and store RFM and lifecycle stages for the whole shop, and to build a cohort table."""
    from mailwright.core.clock import ManualClock
    from mailwright.core.db import Database
    from mailwright.core.uow import open_unit_of_work
    from mailwright.segments import cohorts, rfm

    database = Database(make_engine(url))
    try:
        with open_unit_of_work(database, ManualClock(now)) as uow:
            started = time.perf_counter()
            run = rfm.recompute(uow.session, now)
            recompute = time.perf_counter() - started
        with open_unit_of_work(database, ManualClock(now)) as uow:
            started = time.perf_counter()
            summary = rfm.summary(uow.session, CURRENCY)
            summarized = time.perf_counter() - started
            started = time.perf_counter()
            table = cohorts.cohort_table(uow.session, now, metric="retention")
            tabled = time.perf_counter() - started
    finally:
        database.engine.dispose()
    return {
        "rfm_customers": run.customers_scored,
        "rfm_recompute_seconds": round(recompute, 2),
        "rfm_summary_seconds": round(summarized, 2),
        "cohort_table_seconds": round(tabled, 2),
        "cohorts": len(table.cohorts),
        "lifecycle_thresholds": f"{run.thresholds.new_days}/{run.thresholds.at_risk_days}/{run.thresholds.churned_days} days ({run.thresholds.source})",
        "champions": next(s.customers for s in summary.segments if s.name == "Champions"),
    }


def main(argv: list[str] | None = None) -> None:
    """Command line: generate a shop and print its figures (the last line is one JSON object)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="database URL (a fresh SQLite file by default)")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--now", type=datetime.fromisoformat, default=NOW)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--keep", action="store_true", help="do not delete the default SQLite file first")
    parser.add_argument(
        "--rfm-only", action="store_true", help="only time the RFM recompute on an existing shop"
    )
    args = parser.parse_args(argv)
    now = args.now if args.now.tzinfo else args.now.replace(tzinfo=UTC)
    if args.rfm_only:
        print(json.dumps(time_rfm(args.url, now)))
        return
    if args.url == DEFAULT_URL and not args.keep:
        path = Path(DEFAULT_URL.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    report = generate(args.url, args.contacts, args.seed, now, data=args.data, progress=sys.stderr.isatty())
    report.update(time_rfm(args.url, now))
    report["machine"] = f"{platform.machine()}, {platform.python_version()}, {os.cpu_count()} cores"
    print(
        f"generated {report['contacts']:,} contacts, {report['orders']:,} orders ({report['order_lines']:,} lines), "
        f"{report['events']:,} events in {report['seconds']:.1f} s on {report['dialect']}; "
        f"RFM recompute for {report['rfm_customers']:,} customers {report['rfm_recompute_seconds']:.2f} s"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
