"""Welcome, post-purchase, replenishment, win-back, re-engagement/sunset, birthday and lifecycle flows."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from tests.flows.conftest import Shop

from mailwright.contacts import service as contacts
from mailwright.contacts.models import Contact
from mailwright.contacts.schemas import ContactPredictionData
from mailwright.events import service as events
from mailwright.events.schemas import ContactEvent


def test_welcome_series_sends_three_emails_over_a_week_by_sign_up_source_and_stops_on_an_order(
    shop: Shop,
) -> None:
    shop.install("welcome_series")
    ann = shop.customer("ann", signup_source="popup")
    bob = shop.customer("bob", signup_source="checkout")
    cat = shop.customer("cat", signup_source="popup")
    for user in ("ann", "bob", "cat"):
        shop.track(user, "Subscribed", confirmed=True, source="form")
    shop.tick()
    assert shop.templates_sent(ann) == ["welcome_1"]
    assert shop.templates_sent(bob) == ["welcome_2"]
    shop.later(days=1)
    shop.order("cat", "o-1")
    shop.later(days=1, minutes=1)
    assert shop.templates_sent(ann) == ["welcome_1", "welcome_2"]
    shop.later(days=5)
    assert shop.templates_sent(ann) == ["welcome_1", "welcome_2", "welcome_3"]
    assert shop.templates_sent(bob) == ["welcome_2", "welcome_3"]
    assert shop.templates_sent(cat) == ["welcome_1"]
    assert shop.runs(cat)[0].converted


def test_post_purchase_thanks_then_asks_for_a_review_then_cross_sells_after_three_weeks(shop: Shop) -> None:
    shop.install("post_purchase")
    dan = shop.customer("dan")
    shop.order("dan", "o-7", total=250)
    shop.tick()
    assert shop.templates_sent(dan) == ["post_purchase_thank_you"]
    assert shop.outbox(dan)[0].category == "transactional"
    assert shop.outbox(dan)[0].context["event"]["order_id"] == "o-7"
    shop.later(days=7, minutes=1)
    assert shop.templates_sent(dan) == ["post_purchase_thank_you", "review_request"]
    shop.later(days=13)
    assert len(shop.templates_sent(dan)) == 2
    shop.later(days=1)
    assert shop.templates_sent(dan) == ["post_purchase_thank_you", "review_request", "cross_sell"]


def test_replenishment_comes_five_days_before_the_customers_own_next_order_date(shop: Shop) -> None:
    shop.install("replenishment")
    eva = shop.customer("eva", timezone="Europe/Berlin")
    now = shop.runtime.clock.now()
    shop.order("eva", "o-1")
    shop.order("eva", "o-2")
    with shop.runtime.uow() as uow:
        contacts.replace_predictions(
            uow.session,
            [
                ContactPredictionData(
                    contact_id=eva,
                    computed_at=now,
                    version="test",
                    horizon_days=90,
                    status="ok",
                    expected_next_order_at=now + timedelta(days=8),
                )
            ],
        )
    shop.later(days=2)
    assert shop.templates_sent(eva) == []
    # Three days later it is the day, 10:00 in Berlin is 09:00 UTC.
    shop.later(days=1)
    assert shop.templates_sent(eva) == ["replenishment"]


def test_win_back_waits_for_the_shops_purchase_cycle_then_climbs_a_two_step_offer_ladder(shop: Shop) -> None:
    old = shop.runtime.clock.now() - timedelta(days=120)
    fred = shop.customer("fred")
    gina = shop.customer("gina")
    shop.post(
        "/v1/track",
        {
            "userId": "fred",
            "event": "Order Completed",
            "timestamp": old.isoformat(),
            "properties": {"order_id": "w-1", "total": 30, "currency": "EUR"},
        },
    )
    shop.order("gina", "w-2")
    shop.install("win_back")
    shop.tick()
    assert shop.templates_sent(fred) == ["win_back_1"]
    assert shop.templates_sent(gina) == []
    shop.later(days=7, minutes=1)
    assert shop.templates_sent(fred) == ["win_back_1", "win_back_2"]
    assert "90 days" in shop.flow("Win-back").description


def test_re_engagement_then_sunset_unsubscribes_the_still_unengaged(shop: Shop) -> None:
    hank = shop.customer("hank")
    ida = shop.customer("ida")
    long_ago = shop.runtime.clock.now() - timedelta(days=100)
    with shop.runtime.uow() as uow:
        events.record_contact_events(
            uow,
            [
                ContactEvent(c, "Email Sent", long_ago, f"sent-{c}", {"template": "newsletter"})
                for c in (hank, ida)
            ],
        )
    shop.install("re_engagement")
    shop.tick()
    assert shop.templates_sent(hank) == ["re_engagement"] and shop.templates_sent(ida) == ["re_engagement"]
    shop.later(days=2)
    with shop.runtime.uow() as uow:
        events.record_contact_events(
            uow, [ContactEvent(ida, "Email Opened", uow.now(), "open-ida", {"machine": False})]
        )
    shop.later(days=3, minutes=1)
    assert shop.templates_sent(hank) == ["re_engagement", "sunset"]
    assert shop.templates_sent(ida) == ["re_engagement"]
    shop.later(days=7)
    with shop.runtime.uow() as uow:
        assert contacts.get_profile(uow.session, hank).consent_status == "unsubscribed"
        assert contacts.get_profile(uow.session, ida).consent_status == "subscribed"
        assert "sunset" in contacts.get_profile(uow.session, hank).properties["tags"]


def test_birthday_email_goes_out_on_the_day_at_nine_in_the_contacts_own_zone(shop: Shop) -> None:
    today = shop.runtime.clock.now().date()
    jo = shop.customer("jo", birthday=f"1990-{today.month:02d}-{today.day:02d}", timezone="America/New_York")
    kim = shop.customer(
        "kim", birthday=f"1991-{today.month:02d}-{today.day + 1:02d}", timezone="Europe/Paris"
    )
    shop.install("birthday")
    shop.tick()  # 09:00 UTC is 04:00 in New York
    assert shop.templates_sent(jo) == []
    shop.later(hours=5)  # 14:00 UTC = 09:00 New York
    assert shop.templates_sent(jo) == ["birthday"]
    shop.later(hours=18)  # 08:00 UTC = 09:00 Paris the next day
    assert shop.templates_sent(kim) == ["birthday"]
    shop.later(days=1)
    assert shop.templates_sent(jo) == ["birthday"]


def test_a_lifecycle_stage_change_starts_the_matching_email(shop: Shop) -> None:
    lea = shop.customer("lea")
    max_ = shop.customer("max")
    with shop.runtime.uow() as uow:
        uow.session.execute(
            update(Contact).where(Contact.id.in_([lea, max_])).values(lifecycle_stage="active")
        )
    shop.install("lifecycle")
    shop.tick()  # the first look only records the stages
    with shop.runtime.uow() as uow:
        uow.session.execute(update(Contact).where(Contact.id == lea).values(lifecycle_stage="at_risk"))
    shop.later(hours=3)
    assert shop.templates_sent(lea) == ["win_back_1"]
    assert shop.templates_sent(max_) == []
    (run,) = shop.runs(lea)
    assert run.trigger["properties"] == {"stage": "at_risk", "previous_stage": "active"}
    assert datetime(2026, 11, 2, tzinfo=UTC) <= run.started_at
