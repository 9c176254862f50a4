"""Mailwright's own events about known contacts: stored once, and they move the engagement roll-ups."""

from datetime import timedelta

from tests.conftest import START

from mailwright.contacts import service as contacts
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent, IncomingEvent


def test_opens_are_stored_once_and_move_last_open_forward_only(runtime: Runtime) -> None:
    with runtime.uow() as uow:
        result = events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="m1",
                    type="identify",
                    name="Identify",
                    occurred_at=START,
                    source="api",
                    email="ada@example.com",
                )
            ],
        )
        uow.commit()
    contact_id = result.contact_ids[0]
    later, earlier = START + timedelta(hours=2), START + timedelta(hours=1)
    opened = [
        ContactEvent(contact_id, "Email Opened", later, "open:abc:1", {"message_id": "abc"}),
        ContactEvent(contact_id, "Email Opened", earlier, "open:abc:0", {"message_id": "abc"}),
    ]
    with runtime.uow() as uow:
        assert events.record_contact_events(uow, opened, notify=False) == 2
        uow.commit()
    with runtime.uow() as uow:
        # A retry of the same occurrences stores nothing new.
        assert events.record_contact_events(uow, opened, notify=False) == 0
        uow.commit()
        profile = contacts.get_profile(uow.session, contact_id)
        stored = events.list_events(uow.session, contact_id=contact_id)
    assert profile.last_open_at == later
    assert [e.name for e in stored].count("Email Opened") == 2
