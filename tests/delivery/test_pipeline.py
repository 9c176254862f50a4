"""Two batches in flight: one on the wire while the next is claimed and prepared, and what must not change."""

import pytest
from tests.delivery.conftest import MakeContact, RuntimeWith, message, queue

from mailwright.delivery import service
from mailwright.delivery.senders import FakeSender, SendResult


def test_the_frequency_cap_sees_marketing_mail_still_on_the_wire(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact
) -> None:
    # Batches of two: ann's second newsletter is claimed while her first is being sent, before its
    # `sent` is recorded, so only the cap's knowledge of the batch on the wire can hold it back.
    rt = runtime_with(send_batch_size=2, frequency_cap_hours=16)
    ann, bob, cat = (make_contact(f"{n}@example.org") for n in ("ann", "bob", "cat"))
    first = queue(rt, ann, "cap:ann:1")
    queue(rt, bob, "cap:bob")
    second = queue(rt, ann, "cap:ann:2")
    queue(rt, cat, "cap:cat")
    sender = FakeSender()
    report = service.send_due(rt, worker_id="w", limit=10, sender=sender)
    assert sorted(m.recipients[0] for m in sender.sent) == [
        "ann@example.org",
        "bob@example.org",
        "cat@example.org",
    ]
    assert report.sent == 3 and report.skipped == 1
    assert message(rt, first.public_id).status == "sent"
    got = message(rt, second.public_id)
    assert got.status == "skipped" and got.skip_reason == "frequency_cap"


def test_a_refusal_of_the_sender_stops_the_batch_already_prepared_behind_it(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact
) -> None:
    rt = runtime_with(send_batch_size=2)
    ids = [make_contact(f"p{i}@example.org") for i in range(4)]
    queued = [queue(rt, cid, f"pause:{cid}") for cid in ids]

    def answer(envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        if recipients == ["p1@example.org"]:
            return SendResult.refused(550, "5.7.1 Our policy does not allow mail from you", stage="data")
        return SendResult.accepted()

    sender = FakeSender(answer)
    report = service.send_due(rt, worker_id="w", limit=10, sender=sender)
    assert report.paused and report.sent == 1 and report.blocked == 1
    # The second batch was claimed and signed while the first was sent, and never went out.
    assert [m.recipients for m in sender.sent] == [("p0@example.org",)]
    assert [message(rt, q.public_id).status for q in queued] == ["sent", "queued", "queued", "queued"]
    with rt.uow() as uow:
        assert service.is_paused(uow.session)
    assert service.send_due(rt, worker_id="w", limit=10, sender=sender).claimed == 0


def test_a_sender_that_crashes_leaves_every_claimed_row_sending_for_review(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact
) -> None:
    rt = runtime_with(send_batch_size=2)
    queued = [queue(rt, make_contact(f"x{i}@example.org"), f"crash:{i}") for i in range(5)]

    def answer(envelope_from: str, recipients: list[str], data: bytes) -> SendResult:
        raise RuntimeError("the sender broke")

    with pytest.raises(RuntimeError, match="the sender broke"):
        service.send_due(rt, worker_id="w", limit=10, sender=FakeSender(answer))
    statuses = [message(rt, q.public_id).status for q in queued]
    # Nothing is recorded as sent or given back to the queue: the two claimed batches wait for the
    # sweep (review), the rest was never claimed.
    assert statuses == ["sending"] * 4 + ["queued"]
