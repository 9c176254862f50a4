"""Rich renderings of profiles and summaries for people at a terminal."""

from rich.table import Table

from mailwright.cli.common import console
from mailwright.contacts.schemas import ContactOut
from mailwright.core.money import from_minor
from mailwright.events.schemas import EventOut
from mailwright.orders.schemas import OrderOut


def money(minor: int, currency: str | None) -> str:
    """A plain money string for terminal tables."""
    code = currency or "GBP"
    return f"{from_minor(minor, code):,.2f} {code}"


def render_contact(profile: ContactOut, orders: list[OrderOut], events: list[EventOut]) -> None:
    """Print a contact's profile, roll-ups, orders and events as tables."""
    table = Table(title=f"Contact {profile.id}", show_header=False)
    name = " ".join(p for p in (profile.first_name, profile.last_name) if p) or "-"
    currency = profile.currency or (orders[0].currency if orders else None)
    rows = [
        ("email", profile.email or "-"),
        ("name", name),
        ("store id", profile.external_id or "-"),
        ("locale / time zone", f"{profile.locale or '-'} / {profile.timezone or '-'}"),
        ("country / city", f"{profile.country or '-'} / {profile.city or '-'}"),
        (
            "consent",
            f"{profile.consent_status} ({profile.consent_source or '-'}, "
            f"{profile.consent_updated_at or '-'})",
        ),
        ("orders", str(profile.order_count)),
        ("revenue", money(profile.revenue_minor, currency)),
        ("average order", money(profile.average_order_value_minor, currency)),
        ("first / last order", f"{profile.first_order_at or '-'} / {profile.last_order_at or '-'}"),
        ("last site activity", str(profile.last_site_activity_at or "-")),
        ("last open / click", f"{profile.last_open_at or '-'} / {profile.last_click_at or '-'}"),
        ("properties", ", ".join(f"{k}={v}" for k, v in profile.properties.items()) or "-"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)
    if orders:
        order_table = Table(title="Recent orders")
        for column in ("order", "placed", "status", "total", "lines"):
            order_table.add_column(column)
        for order in orders:
            order_table.add_row(
                order.external_id,
                str(order.placed_at),
                order.status,
                money(order.total_minor, order.currency),
                str(len(order.lines)),
            )
        console.print(order_table)
    if events:
        event_table = Table(title="Recent events")
        for column in ("when", "event", "source"):
            event_table.add_column(column)
        for event in events:
            event_table.add_row(str(event.occurred_at), event.name, event.source)
        console.print(event_table)
