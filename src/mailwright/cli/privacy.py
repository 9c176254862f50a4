"""`mailwright contacts export|erase EMAIL`: everything held about a person, and its erasure (GDPR)."""

from typing import Annotated

import typer

from mailwright.cli.common import build_runtime, console, domain_errors, print_json
from mailwright.tracking import privacy


def contacts_export(email: Annotated[str, typer.Argument(help="The contact's email address.")]) -> None:
    """Print everything held about a contact as JSON (profile, consent, events, orders, messages, ...)."""
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        data = privacy.export(uow, privacy.contact_for_email(uow.session, email))
    print_json(data)


def contacts_erase(
    email: Annotated[str, typer.Argument(help="The contact's email address.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Erase a contact's personal data; the address stays suppressed (by its hash) and cannot sign up again."""
    if not yes:
        typer.confirm(f"Erase {email} for good?", abort=True)
    runtime = build_runtime()
    with domain_errors(), runtime.uow() as uow:
        contact_id = privacy.contact_for_email(uow.session, email)
        changed = privacy.erase(uow, contact_id, source="cli")
    if as_json:
        print_json({"erased": True, "contact_id": contact_id, **changed})
    else:
        console.print(
            f"erased contact {contact_id}: {changed['events_anonymized']} event(s) anonymized, "
            f"{changed['messages_blanked']} message(s) blanked; the address stays suppressed"
        )
