from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mailwright.catalog import service as catalog
from mailwright.contacts import service as contacts
from mailwright.core.errors import InvalidInput
from mailwright.core.runtime import Runtime
from mailwright.core.uow import UnitOfWork
from mailwright.events import service as events
from mailwright.events.imports.csv_import import CsvOptions, ImportKind, import_csv
from mailwright.events.imports.online_retail import import_online_retail
from mailwright.events.imports.overview import shop_overview
from mailwright.events.imports.schemas import ImportReport
from mailwright.orders import service as orders

CSV = Path(__file__).parent / "fixtures" / "csv"


def run(runtime: Runtime, kind: ImportKind, path: Path, **options: object) -> ImportReport:
    return import_csv(
        kind,
        path,
        runtime.uow,
        now=runtime.clock.now(),
        options=CsvOptions(**options),  # type: ignore[arg-type]
    )


def rejections(report: ImportReport) -> list[tuple[int, str | None]]:
    return [(r.line, r.column) for r in report.rejected]


# -- customers ------------------------------------------------------------------------------------


def test_customers_are_imported_with_every_profile_field(runtime: Runtime, session: Session) -> None:
    report = run(runtime, "customers", CSV / "customers.csv")
    assert (report.rows, report.records, report.imported, report.rejected) == (4, 4, 4, [])
    ann = contacts.find_by_email(session, "ann@example.com")
    assert ann is not None
    assert (ann.external_id, ann.first_name, ann.last_name, ann.phone) == (
        "c-1",
        "Ann",
        "Lee",
        "+44 20 7946 0000",
    )
    assert (ann.locale, ann.timezone, ann.country, ann.city) == ("en-GB", "Europe/London", "GB", "London")
    assert ann.birthday == date(1990, 4, 23)
    assert (ann.consent_status, ann.consent_source) == ("subscribed", "csv")
    assert ann.properties == {"Favourite Colour": "teal"}
    bob = contacts.find_by_email(session, "bob@example.com")
    assert bob is not None and (bob.locale, bob.country, bob.consent_status) == (
        "de-DE",
        "DE",
        "unsubscribed",
    )
    # A row with only a customer id still makes a profile, found through the store id.
    assert contacts.contact_ids_for_external(session, ["c-3"]).keys() == {"c-3"}
    dee = contacts.find_by_email(session, "dee@example.com")
    assert dee is not None and dee.external_id is None and dee.properties == {"Favourite Colour": "red"}
    assert contacts.count_profiles(session) == 4
    names = [e.name for e in events.list_events(session, contact_id=ann.id)]
    assert names == ["Identify"]


@pytest.mark.parametrize(
    ("kind", "fixture", "expected_rejected", "expected_records"),
    [
        (
            "customers",
            "customers_broken.csv",
            [
                (3, "email", "invalid email address"),
                (4, "email", "neither an email address nor a customer id"),
                (5, "locale", "unknown locale"),
                (6, "timezone", "unknown IANA time zone"),
                (7, "country", "unknown country 'Atlantis'"),
                (8, "birthday", "must be a date"),
                (9, "consent", "must be yes/no"),
                (10, None, "11 cells but the header has 9 columns"),
            ],
            3,
        ),
        (
            "products",
            "products.csv",
            [
                (5, "price", "must be a number"),
                (6, "price", "must not be negative"),
                (7, "id", "no product id"),
                (8, "in_stock", "must be true or false"),
                (9, "currency", "unknown currency 'ZZZ'"),
            ],
            3,
        ),
        (
            "orders",
            "orders.csv",
            [
                (5, "quantity", "must be a whole number"),
                (6, None, "order C-1 was not imported because its line 5 is invalid"),
                (7, None, "order D-1 was not imported because its line 8 is invalid"),
                (8, "email", "'other@example.com' here but 'dora@example.com' on line 7"),
                (9, "date", "ISO 8601"),
                (10, "order_id", "order id is empty"),
                (11, "email", "neither a customer email nor a customer id"),
                (12, "price", "must not be negative"),
            ],
            2,
        ),
    ],
)
def test_broken_rows_are_reported_with_line_column_and_reason(
    runtime: Runtime,
    kind: ImportKind,
    fixture: str,
    expected_rejected: list[tuple[int, str | None, str]],
    expected_records: int,
) -> None:
    report = run(runtime, kind, CSV / fixture)
    assert rejections(report) == [(line, column) for line, column, _ in expected_rejected]
    for rejected, (_, _, reason) in zip(report.rejected, expected_rejected, strict=True):
        assert reason in rejected.reason
    assert report.records == expected_records
    assert report.imported == expected_records


def test_a_quoted_cell_over_two_lines_keeps_later_line_numbers_right(
    runtime: Runtime, session: Session
) -> None:
    report = run(runtime, "customers", CSV / "customers_broken.csv")
    # Lines 11-12 are one row; the next row starts on line 13 and is valid.
    assert all(r.line != 13 for r in report.rejected)
    multi = contacts.find_by_email(session, "multi@example.com")
    assert multi is not None and multi.properties == {"notes": "a note\nover two lines"}
    assert contacts.find_by_email(session, "after@example.com") is not None


def test_column_mapping_reads_renamed_columns_and_semicolon_files(runtime: Runtime, session: Session) -> None:
    without = run(runtime, "customers", CSV / "customers_mapped.csv", dry_run=True)
    assert without.records == 2  # the Given name column then lands in custom properties
    report = run(
        runtime,
        "customers",
        CSV / "customers_mapped.csv",
        mapping={"email": "E-mail", "first_name": "Given name", "last_name": "Surname", "country": "Land"},
    )
    assert (report.imported, report.rejected) == (2, [])
    mia = contacts.find_by_email(session, "mapped@example.com")
    assert mia is not None and (mia.first_name, mia.last_name, mia.country) == ("Mia", "Map", "NL")
    assert mia.properties == {}


def test_mapping_to_a_missing_column_or_unknown_field_refuses_the_file(runtime: Runtime) -> None:
    with pytest.raises(InvalidInput, match="no column 'Mail'"):
        run(runtime, "customers", CSV / "customers.csv", mapping={"email": "Mail"})
    with pytest.raises(InvalidInput, match="unknown field"):
        run(runtime, "customers", CSV / "customers.csv", mapping={"shoe_size": "Email"})


def test_a_file_without_an_email_or_id_column_is_refused_before_anything_is_written(
    runtime: Runtime, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("name,city\nAnn,Leeds\n")
    with pytest.raises(InvalidInput, match="needs a column for email or id"):
        run(runtime, "customers", path)
    assert contacts.count_profiles(session) == 0


def test_dry_run_validates_and_writes_nothing(runtime: Runtime, session: Session) -> None:
    for kind, fixture in (
        ("customers", "customers.csv"),
        ("products", "products.csv"),
        ("orders", "orders.csv"),
    ):
        report = run(runtime, kind, CSV / fixture, dry_run=True)  # type: ignore[arg-type]
        assert report.dry_run and report.records > 0 and report.imported == 0
    assert contacts.count_profiles(session) == 0
    assert catalog.count_products(session) == 0
    assert orders.list_orders(session) == []
    assert events.list_events(session) == []


@pytest.mark.parametrize(
    ("kind", "fixture", "records"),
    [("customers", "customers.csv", 4), ("products", "products.csv", 3), ("orders", "orders.csv", 2)],
)
def test_importing_the_same_file_again_changes_nothing(
    runtime: Runtime, session: Session, kind: ImportKind, fixture: str, records: int
) -> None:
    first = run(runtime, kind, CSV / fixture)
    before = (
        contacts.count_profiles(session),
        catalog.count_products(session),
        len(orders.list_orders(session)),
        len(events.list_events(session, limit=1000)),
    )
    second = run(runtime, kind, CSV / fixture)
    after = (
        contacts.count_profiles(session),
        catalog.count_products(session),
        len(orders.list_orders(session)),
        len(events.list_events(session, limit=1000)),
    )
    assert first.imported == records
    assert (second.imported, second.unchanged) == (0, records)
    assert after == before


def test_a_changed_customer_row_updates_the_profile_on_reimport(
    runtime: Runtime, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("email,first_name\nann@example.com,Ann\n")
    run(runtime, "customers", path)
    path.write_text("email,first_name\nann@example.com,Anne\n")
    report = run(runtime, "customers", path)
    assert report.imported == 1
    ann = contacts.find_by_email(session, "ann@example.com")
    assert ann is not None and ann.first_name == "Anne"
    assert contacts.count_profiles(session) == 1


def test_a_crash_mid_file_keeps_whole_batches_and_a_rerun_completes_it(
    runtime: Runtime, session: Session, tmp_path: Path
) -> None:
    path = tmp_path / "c.csv"
    path.write_text("email\n" + "".join(f"p{i}@example.com\n" for i in range(5)))
    batches = 0

    @contextmanager
    def crashing_uow() -> Iterator[UnitOfWork]:
        nonlocal batches
        batches += 1
        with runtime.uow() as uow:
            yield uow
            if batches == 2:
                raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        import_csv("customers", path, crashing_uow, now=runtime.clock.now(), options=CsvOptions(batch_size=2))
    assert contacts.count_profiles(session) == 2
    report = run(runtime, "customers", path, batch_size=2)
    assert (report.imported, report.unchanged, report.batches) == (3, 2, 3)
    assert contacts.count_profiles(session) == 5


# -- products and orders --------------------------------------------------------------------------


def test_products_land_in_the_catalog_with_prices_in_minor_units(runtime: Runtime, session: Session) -> None:
    run(runtime, "products", CSV / "products.csv")
    mug = catalog.get_product(session, "p-1")
    assert (mug.sku, mug.title, mug.price_minor, mug.currency) == ("SKU-1", "Blue Mug", 1250, "GBP")
    assert (mug.url, mug.image_url) == ("https://shop.example/p-1", "https://cdn.example/p-1.jpg")
    assert (mug.categories, mug.in_stock) == (["Kitchen", "Mugs"], True)
    plate = catalog.get_product(session, "p-2")
    assert (plate.price_minor, plate.currency, plate.in_stock) == (129900, "EUR", False)
    # Without an id column value the SKU is the product id.
    assert catalog.get_product(session, "SKU-3").in_stock is True
    assert catalog.count_products(session) == 3


def test_order_lines_are_grouped_into_orders_with_rollups(runtime: Runtime, session: Session) -> None:
    run(runtime, "customers", CSV / "customers.csv")
    report = run(runtime, "orders", CSV / "orders.csv")
    assert report.imported == 2
    ann = contacts.find_by_email(session, "ann@example.com")
    assert ann is not None
    placed = orders.list_orders(session, contact_id=ann.id)
    assert len(placed) == 1
    order = placed[0]
    assert (order.external_id, order.total_minor, order.currency, order.coupon) == (
        "A-1",
        3000,
        "GBP",
        "SPRING",
    )
    assert [(line.product_external_id, line.quantity, line.price_minor) for line in order.lines] == [
        ("p-1", 2, 1250),
        ("p-2", 1, 500),
    ]
    # Times without an offset are in the shop's zone (UTC by default).
    assert order.placed_at == datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    assert (ann.order_count, ann.revenue_minor) == (1, 3000)
    # A new customer is created from the order's email.
    new = contacts.find_by_email(session, "new@example.com")
    assert new is not None and new.order_count == 1
    assert {o.external_id for o in orders.list_orders(session)} == {"A-1", "B-1"}
    event = events.list_events(session, contact_id=ann.id, name="Order Completed")[0]
    assert event.properties["order_id"] == "A-1" and event.properties["total"] == 30.0
    assert [p["product_id"] for p in event.properties["products"]] == ["p-1", "p-2"]


def test_order_times_without_offset_follow_the_given_zone(runtime: Runtime, session: Session) -> None:
    run(runtime, "orders", CSV / "orders.csv", timezone="Europe/Berlin")
    order = next(o for o in orders.list_orders(session) if o.external_id == "A-1")
    assert order.placed_at == datetime(2024, 3, 1, 13, 30, tzinfo=UTC)
    explicit = next(o for o in orders.list_orders(session) if o.external_id == "B-1")
    assert explicit.placed_at == datetime(2024, 3, 2, 9, 0, tzinfo=UTC)


# -- Online Retail --------------------------------------------------------------------------------


def test_online_retail_slice(runtime: Runtime, session: Session, shared_data: Path) -> None:
    report = import_online_retail(runtime.uow, shared_data / "online_retail", limit_customers=50)
    # Figures of the first 50 customers by id, counted independently from the parquet file.
    assert (report.customers, report.orders, report.order_lines) == (50, 143, 3587)
    assert report.products == catalog.count_products(session) == 1306
    assert contacts.count_profiles(session) == 50
    summary = orders.summary(session)
    assert (summary.orders, summary.revenue_minor, summary.currency) == (143, 16430276, "GBP")
    profile = contacts.find_by_email(session, "customer-12347@example.com")
    assert profile is not None
    assert (profile.external_id, profile.country, profile.locale, profile.timezone, profile.currency) == (
        "12347",
        "IS",
        "is-IS",
        "Atlantic/Reykjavik",
        "GBP",
    )
    assert (profile.order_count, profile.revenue_minor) == (7, 431000)
    placed = {o.external_id: o for o in orders.list_orders(session, contact_id=profile.id)}
    # UK local time: GMT in winter, BST (UTC+1) in summer.
    assert placed["537626"].placed_at == datetime(2010, 12, 7, 14, 57, tzinfo=UTC)
    assert placed["556201"].placed_at == datetime(2011, 6, 9, 12, 1, tzinfo=UTC)
    # "Unspecified" is no country: the contact has none rather than a failed import.
    unknown = [c for c in contacts.country_breakdown(session, limit=50) if c.country is None]
    assert len(unknown) == 1 and unknown[0].customers >= 1

    again = import_online_retail(runtime.uow, shared_data / "online_retail", limit_customers=50)
    assert (again.events_imported, again.events_unchanged) == (0, 193)
    assert contacts.count_profiles(session) == 50
    assert orders.summary(session).orders == 143


def test_shop_overview_after_the_slice(runtime: Runtime, session: Session, shared_data: Path) -> None:
    import_online_retail(runtime.uow, shared_data / "online_retail", limit_customers=50)
    overview = shop_overview(session, example_email="customer-12347@example.com")
    assert (overview.customers, overview.orders, overview.products) == (50, 143, 1306)
    assert overview.average_order_value_minor == 16430276 // 143
    assert overview.example_email == "customer-12347@example.com"
    by_customers = overview.countries_by_customers
    assert sum(c.customers for c in contacts.country_breakdown(session, limit=100)) == 50
    assert by_customers == sorted(by_customers, key=lambda c: c.customers, reverse=True)
    by_revenue = overview.countries_by_revenue
    assert by_revenue == sorted(by_revenue, key=lambda c: c.revenue_minor, reverse=True)
    assert sum(c.revenue_minor for c in contacts.country_breakdown(session, limit=100)) == 16430276
    units = overview.top_products_by_units
    assert units == sorted(units, key=lambda p: p.units, reverse=True)
    revenue = overview.top_products_by_revenue
    assert revenue == sorted(revenue, key=lambda p: p.revenue_minor, reverse=True)
    assert revenue[0].revenue_minor >= units[0].revenue_minor


def test_online_retail_missing_folder_is_a_clear_error(runtime: Runtime, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="no Online Retail data"):
        import_online_retail(runtime.uow, tmp_path / "nowhere")


@pytest.mark.slow
def test_online_retail_full_import_counts(runtime: Runtime, session: Session, shared_data: Path) -> None:
    report = import_online_retail(runtime.uow, shared_data / "online_retail")
    assert (report.customers, report.orders, report.products) == (4339, 18536, 3665)
    assert contacts.count_profiles(session) == 4339
    assert orders.summary(session).orders == 18536
    assert catalog.count_products(session) == 3665
