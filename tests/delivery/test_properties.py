"""Property: whatever contacts do between queueing and sending, nobody gets mail they must not get."""

import itertools
import re
from datetime import datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tests.delivery.conftest import MakeContact, queue

from mailwright.contacts import service as contacts
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service
from mailwright.delivery.senders import FakeSender

CONTACTS = 2
TOPICS = ("news", "offers")
CAP = timedelta(hours=16)
_examples = itertools.count()
_MESSAGE_ID = re.compile(rb"^Message-ID: <([^@>]+)@", re.MULTILINE)

who = st.integers(0, CONTACTS - 1)
steps = st.lists(
    st.tuples(
        st.one_of(
            st.tuples(
                st.just("consent"),
                who,
                st.sampled_from(["subscribed", "unsubscribed", "pending", "never_subscribed"]),
            ),
            st.tuples(st.just("pause"), who, st.sampled_from([-1, 2, 30])),
            st.tuples(st.just("topics"), who, st.sets(st.sampled_from(TOPICS))),
            st.tuples(st.just("suppress"), who, st.sampled_from(["hard_bounce", "complaint", "manual"])),
            st.tuples(
                st.just("queue"),
                who,
                st.sampled_from(["marketing", "transactional"]),
                st.sampled_from([None, *TOPICS]),
            ),
            st.tuples(st.just("send")),
            st.tuples(st.just("wait"), st.sampled_from([1, 8, 17, 72])),
        ),
        st.booleans(),  # send what is due right after this step
    ),
    min_size=1,
    max_size=30,
)


class Model:
    """What we know each contact allows, kept beside the database by the test."""

    def __init__(self) -> None:
        self.consent = ["subscribed"] * CONTACTS
        self.paused_until: list[datetime | None] = [None] * CONTACTS
        self.topics: list[set[str]] = [set() for _ in range(CONTACTS)]
        self.suppressed = [False] * CONTACTS
        self.last_marketing: list[datetime | None] = [None] * CONTACTS

    def allows(self, i: int, category: str, topic: str | None, now: datetime) -> str | None:
        """None when contact i may get this message now, else why not."""
        if self.suppressed[i]:
            return "suppressed"
        if category == "transactional":
            return None
        if self.consent[i] != "subscribed":
            return f"consent {self.consent[i]}"
        paused = self.paused_until[i]
        if paused is not None and paused > now:
            return "paused"
        if topic is not None and topic in self.topics[i]:
            return "left topic"
        last = self.last_marketing[i]
        if last is not None and last > now - CAP:
            return "frequency cap"
        return None


# The sequences that matter most, always tried first; hypothesis explores around them.
@example(plan=[(("queue", 0, "marketing", None), False), (("consent", 0, "unsubscribed"), True)])
@example(plan=[(("queue", 0, "marketing", "offers"), False), (("topics", 0, {"offers"}), True)])
@example(plan=[(("pause", 1, 2), False), (("queue", 1, "marketing", None), True)])
@example(plan=[(("queue", 0, "transactional", None), False), (("suppress", 0, "complaint"), True)])
@example(plan=[(("consent", 1, "pending"), False), (("queue", 1, "marketing", "news"), True)])
@example(
    plan=[
        (("queue", 0, "marketing", None), True),
        (("wait", 8), False),
        (("queue", 0, "marketing", "news"), True),
        (("wait", 17), False),
        (("queue", 0, "marketing", None), True),
    ]
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps)
def test_nothing_is_sent_to_a_contact_who_must_not_get_it(
    plan: list[tuple[tuple[object, ...], bool]],
    runtime: Runtime,
    installed: None,
    make_contact: MakeContact,
    clock: ManualClock,
) -> None:
    n = next(_examples)
    emails = [f"p{n}-{i}@example.org" for i in range(CONTACTS)]
    ids = [make_contact(e) for e in emails]
    model = Model()
    sender = FakeSender()
    queued: dict[str, tuple[int, str, str | None]] = {}
    for step_no, (step, then_send) in enumerate(plan):
        kind = step[0]
        with runtime.uow() as uow:
            now = uow.now()
            if kind == "consent":
                _, i, status = step
                contacts.set_consent(uow.session, ids[i], str(status), source="test", now=now)  # type: ignore[index]
                model.consent[i] = str(status)  # type: ignore[index]
            elif kind == "pause":
                _, i, days = step
                until = now + timedelta(days=int(days))  # type: ignore[call-overload]
                contacts.pause_marketing(uow.session, ids[i], until, now=now)  # type: ignore[index]
                model.paused_until[i] = until  # type: ignore[index]
            elif kind == "topics":
                _, i, chosen = step
                contacts.set_unsubscribed_topics(uow.session, ids[i], chosen, now=now)  # type: ignore[index, arg-type]
                model.topics[i] = set(chosen)  # type: ignore[index, call-overload]
            elif kind == "suppress":
                _, i, reason = step
                contacts.suppress(uow.session, emails[i], reason=str(reason), source="test", now=now)  # type: ignore[index]
                model.suppressed[i] = True  # type: ignore[index]
        if kind == "queue":
            _, i, category, topic = step
            q = queue(
                runtime,
                ids[i],  # type: ignore[index]
                f"prop:{n}:{step_no}",
                category=category,
                topic=topic,
                source_kind="flow" if category == "marketing" else "system",
            )
            queued[q.public_id] = (int(i), str(category), topic)  # type: ignore[call-overload]
        elif kind == "wait":
            clock.advance(timedelta(hours=int(step[1])))  # type: ignore[call-overload]
        if kind == "send" or then_send:
            _send_and_check(runtime, sender, model, queued, emails, clock.now())


def _send_and_check(
    runtime: Runtime,
    sender: FakeSender,
    model: Model,
    queued: dict[str, tuple[int, str, str | None]],
    emails: list[str],
    now: datetime,
) -> None:
    before = len(sender.sent)
    service.send_due(runtime, worker_id="prop", limit=100, sender=sender)
    for mail in sender.sent[before:]:
        found = _MESSAGE_ID.search(mail.data)
        assert found is not None
        public_id = found.group(1).decode()
        if public_id not in queued:
            continue  # left queued by an earlier example (the database is shared across examples)
        i, category, topic = queued[public_id]
        assert mail.recipients == (emails[i],)
        why_not = model.allows(i, category, topic, now)
        assert why_not is None, f"sent {category}/{topic} to contact {i} although: {why_not}"
        if category == "marketing":
            model.last_marketing[i] = now
