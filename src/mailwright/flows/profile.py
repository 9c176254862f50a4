"""The update-profile node: set properties, add tags, unsubscribe or suppress (the sunset flow's last step)."""

from collections.abc import Sequence

from sqlalchemy import select

from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.core.db import in_values
from mailwright.core.uow import UnitOfWork
from mailwright.flows.schemas import UpdateProfileNode

TAGS_PROPERTY = "tags"


def apply(uow: UnitOfWork, contact_ids: Sequence[int], node: UpdateProfileNode, *, source: str) -> None:
    """Apply one update node to many contacts (custom properties live in `properties`, tags in `properties.tags`)."""
    session = uow.session
    now = uow.now()
    ids = sorted(set(contact_ids))
    if not ids:
        return
    if node.set or node.add_tags:
        # The contacts domain has no partial-properties writer yet: read-modify-write the JSON document of
        # each contact, in this transaction (the run's batch holds the only writer of these runs).
        for contact in session.scalars(select(Contact).where(in_values(session, Contact.id, ids))):
            properties = dict(contact.properties or {})
            properties.update(node.set)
            if node.add_tags:
                tags = list(properties.get(TAGS_PROPERTY) or [])
                tags.extend(t for t in node.add_tags if t not in tags)
                properties[TAGS_PROPERTY] = tags
            contact.properties = properties
            contact.updated_at = now
    if node.unsubscribe:
        for contact_id in ids:
            contacts.set_consent(session, contact_id, "unsubscribed", source=source, now=now)
    if node.suppress:
        emails = session.scalars(select(Contact.email).where(in_values(session, Contact.id, ids)))
        for email in emails:
            if email:
                contacts.suppress(session, email, reason="manual", source=source, now=now)
