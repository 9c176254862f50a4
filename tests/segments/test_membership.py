"""Materialized membership: event-driven updates, the scheduled recompute, history and events."""

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.conftest import START
from tests.segments.shop import Shop, ago, build_scenario_shop

from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.events import service as events
from mailwright.events.schemas import IncomingEvent
from mailwright.segments import jobs, service
from mailwright.segments.models import SegmentMembershipHistory
from mailwright.segments.schemas import SegmentIn, SegmentUpdate


def tree(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


VIEWED_SHOES = tree(
    {
        "type": "performed",
        "event": "Product Viewed",
        "window": {"last_days": 2},
        "where": [{"property": "category", "value": "Shoes"}],
    }
)


def create(runtime: Runtime, name: str, definition: dict[str, Any]) -> int:
    with runtime.uow() as uow:
        return service.create_segment(
            uow, SegmentIn(name=name, definition=definition), runtime.settings
        ).segment.id


def segment_events(runtime: Runtime, contact_id: int, segment_id: int) -> list[Any]:
    """A contact's Segment Entered / Exited events of one segment, oldest first.

    (Other segments, built-ins included once installed, record events of their own.)
    """
    with runtime.uow() as uow:
        found = events.list_events(uow.session, contact_id=contact_id, limit=500)
    return sorted(
        (
            e
            for e in found
            if e.name in ("Segment Entered", "Segment Exited")
            and e.properties.get("segment_id") == segment_id
        ),
        key=lambda e: (e.occurred_at, e.name),
    )


def test_an_accepted_event_moves_the_contact_into_the_segment(
    runtime: Runtime, client: TestClient, write_key: str
) -> None:
    shop = Shop(runtime)
    ann = shop.person("ann")
    segment_id = create(runtime, "Shoe browsers", VIEWED_SHOES)
    assert shop.members_of(segment_id) == set()
    assert segment_events(runtime, ann, segment_id) == []  # the backfill records no events

    response = client.post(
        "/v1/track",
        auth=(write_key, ""),
        json={
            "userId": "ann",
            "event": "Product Viewed",
            "messageId": "view-1",
            "timestamp": START.isoformat(),
            "properties": {"product_id": "shoe-1", "category": "Shoes"},
        },
    )
    assert response.status_code == 200, response.text
    assert shop.members_of(segment_id) == {"ann"}
    entered = segment_events(runtime, ann, segment_id)
    assert [e.name for e in entered] == ["Segment Entered"]
    assert entered[0].properties == {"segment_id": segment_id, "segment": "Shoe browsers"}

    # A view of another category changes nothing and records nothing.
    shop.track("ann", "Product Viewed", START, category="Hats")
    assert len(segment_events(runtime, ann, segment_id)) == 1


def test_only_segments_that_depend_on_the_event_are_re_evaluated(runtime: Runtime) -> None:
    shop = Shop(runtime)
    ann = shop.person("ann")
    shoes = create(runtime, "Shoe browsers", VIEWED_SHOES)
    rfm = create(runtime, "Champions", tree({"type": "rfm_segment", "segments": ["Champions"]}))
    country = create(runtime, "British", tree({"type": "location", "field": "country", "values": ["GB"]}))
    mine = {shoes, rfm, country}
    with runtime.uow() as uow:
        # ann was created just now: as a newcomer she is checked against every segment.
        fresh = {c.segment_id for c in service.on_events(uow, [ann], ["Page Viewed"]).segments}
        # ...but not on our own membership events, which would otherwise re-check her forever.
        echoed = {c.segment_id for c in service.on_events(uow, [ann], ["Segment Entered"]).segments}
    assert mine <= fresh
    assert echoed & mine == set()
    runtime.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    with runtime.uow() as uow:
        viewed = {c.segment_id for c in service.on_events(uow, [ann], ["Product Viewed"]).segments}
        identified = {c.segment_id for c in service.on_events(uow, [ann], ["Identify"]).segments}
        entered = {c.segment_id for c in service.on_events(uow, [ann], ["Segment Entered"]).segments}
    assert viewed & mine == {shoes}
    # Identify may merge profiles (moving events), so event conditions listen to it too; RFM never does.
    assert identified & mine == {country, shoes}
    assert entered & mine == set()


def test_a_new_contact_is_checked_against_every_segment(runtime: Runtime) -> None:
    shop = Shop(runtime)
    never = create(
        runtime,
        "Never purchased",
        tree({"type": "purchase", "metric": "order_count", "operator": "eq", "value": 0}),
    )
    shop.track("newbie", "Page Viewed", START, path="/")
    assert shop.members_of(never) == set()  # `track` with a user id creates the profile
    shop.ids["newbie"] = shop.person("newbie")
    assert shop.members_of(never) == {"newbie"}


def test_membership_of_a_segment_follows_through_segment_events(runtime: Runtime) -> None:
    shop = Shop(runtime)
    shop.person("ann")
    shoes = create(runtime, "Shoe browsers", VIEWED_SHOES)
    fans = create(runtime, "Shoe fans", tree({"type": "segment_membership", "segment_id": shoes}))
    runtime.clock.advance(timedelta(hours=2))  # type: ignore[attr-defined]
    shop.track("ann", "Product Viewed", runtime.clock.now(), category="Shoes")
    assert shop.members_of(shoes) == {"ann"}
    assert shop.members_of(fans) == {"ann"}


def test_the_scheduled_recompute_moves_time_relative_members(runtime: Runtime, clock: ManualClock) -> None:
    shop = Shop(runtime)
    ann = shop.person("ann")
    segment_id = create(runtime, "Shoe browsers", VIEWED_SHOES)
    shop.track("ann", "Product Viewed", START, category="Shoes")
    assert shop.members_of(segment_id) == {"ann"}

    clock.advance(timedelta(days=1))
    jobs.recompute(runtime.uow, {})
    assert shop.members_of(segment_id) == {"ann"}  # still within 2 days

    clock.advance(timedelta(days=2))
    jobs.recompute(runtime.uow, {})
    assert shop.members_of(segment_id) == set()
    names = [e.name for e in segment_events(runtime, ann, segment_id)]
    assert sorted(names) == ["Segment Entered", "Segment Exited"]
    with runtime.uow() as uow:
        stays = list(
            uow.session.scalars(
                select(SegmentMembershipHistory).where(SegmentMembershipHistory.segment_id == segment_id)
            )
        )
    assert [(s.contact_id, s.entered_at, s.exited_at) for s in stays] == [
        (ann, START, START + timedelta(days=3))
    ]

    # The worker's own schedule runs the same job when its clock says so.
    shop.track("ann", "Product Viewed", clock.now(), category="Shoes")
    clock.advance(timedelta(days=3))
    runtime.runner.tick(clock.now())
    assert shop.members_of(segment_id) == set()
    assert sorted(e.name for e in segment_events(runtime, ann, segment_id)).count("Segment Exited") == 2


def test_a_retried_refresh_records_each_change_once(runtime: Runtime, clock: ManualClock) -> None:
    shop = Shop(runtime)
    ann = shop.person("ann")
    segment_id = create(runtime, "Shoe browsers", VIEWED_SHOES)
    with runtime.uow() as uow:
        events.ingest(
            uow,
            [
                IncomingEvent(
                    message_id="quiet-view",
                    type="track",
                    name="Product Viewed",
                    occurred_at=START,
                    source="test",
                    user_id="ann",
                    properties={"category": "Shoes"},
                )
            ],
        )  # no notify: nothing re-evaluates yet

    class Crash(Exception):
        pass

    with pytest.raises(Crash), runtime.uow() as uow:
        assert service.refresh_segments(uow, segment_ids=[segment_id]).entered == 1
        raise Crash  # the worker dies before committing: nothing of it stays
    assert shop.members_of(segment_id) == set()
    with runtime.uow() as uow:
        assert service.refresh_segments(uow, segment_ids=[segment_id]).entered == 1
    with runtime.uow() as uow:
        assert service.refresh_segments(uow, segment_ids=[segment_id]).entered == 0
    assert [e.name for e in segment_events(runtime, ann, segment_id)] == ["Segment Entered"]


def test_builtins_install_once_and_select_the_expected_people(runtime: Runtime) -> None:
    shop = build_scenario_shop(runtime)
    with runtime.uow() as uow:
        assert service.install_builtins(uow) == 13
        assert service.install_builtins(uow) == 0
        result = service.refresh_segments(uow)
        by_key = {s.builtin: s for s in service.list_segments(uow.session)}
    assert len(by_key) == 13
    assert len(result.segments) == 12  # the category segment waits for its category
    expected = {
        "new_subscribers": {"ann"},
        "engaged": {"ann"},
        "inactive": {"eve"},
        "vip": {"ann"},
        "one_time_buyers": {"bob", "dan"},
        "repeat_buyers": {"ann"},
        "at_risk": {"bob"},
        "abandoned_cart": {"bob", "cat"},
        "browse_abandoners": {"ann"},
        "page_viewers": {"cat"},
        "birthday_this_month": {"ann"},
        "never_purchased": {"cat", "eve"},
    }
    got = {key: shop.members_of(by_key[key].id) for key in expected}
    assert got == expected

    category = by_key["category_purchasers"]
    assert not category.enabled
    with runtime.uow() as uow:
        saved = service.update_segment(
            uow, category.id, SegmentUpdate(parameters={"category": "Hats"}, enabled=True), runtime.settings
        )
    assert saved.segment.parameters == {"category": "Hats", "days": 30}
    assert shop.members_of(category.id) == {"ann"}

    # Bob orders: he leaves the abandoned carts and the one-time buyers, and joins the repeat buyers.
    shop.order("bob", "o-5", ago(minutes=10), 12.0, [("shoe-3", "Shoes")])
    assert "bob" not in shop.members_of(by_key["abandoned_cart"].id)
    assert "bob" in shop.members_of(by_key["repeat_buyers"].id)
    assert "bob" not in shop.members_of(by_key["one_time_buyers"].id)


def test_warnings_flag_small_and_duplicate_segments(runtime: Runtime) -> None:
    shop = build_scenario_shop(runtime)
    subscribed = tree({"type": "consent", "statuses": ["subscribed"]})
    with runtime.uow() as uow:
        first = service.create_segment(
            uow, SegmentIn(name="Subscribers", definition=subscribed), runtime.settings
        )
        assert [w.code for w in first.warnings] == ["too_small"]
        preview = service.preview(uow, subscribed, runtime.settings, sample=1)
    assert preview.count == 2 and len(preview.sample) == 1
    assert {w.code for w in preview.warnings} == {"too_small", "overlap"}
    overlap = next(w for w in preview.warnings if w.code == "overlap")
    assert overlap.segment == "Subscribers" and overlap.overlap == 1.0
    assert shop.keys({m.contact_id for m in preview.sample}) <= {"ann", "eve"}
    runtime.settings.segment_min_members = 2
    with runtime.uow() as uow:
        quiet = service.preview(uow, subscribed, runtime.settings)
    assert [w.code for w in quiet.warnings] == ["overlap"]
