"""Campaign scenarios on the real services with the manual clock: snapshot, exclusions, schedules, throttle."""

from collections import Counter
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tests.campaigns.shop import Shop

from mailwright.campaigns import service
from mailwright.campaigns.schemas import CampaignIn, ScheduleIn
from mailwright.contacts import service as contacts
from mailwright.contacts.schemas import ContactPredictionData
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.delivery.senders import FakeSender

HOUR = timedelta(hours=1)


def _outbox_send_at(runtime: Runtime, public_id: str | None) -> object:
    assert public_id is not None
    with runtime.uow() as uow:
        return delivery.get_message(uow.session, public_id).send_at


def test_the_snapshot_is_taken_at_send_time(shop: Shop, clock: ManualClock, fake_sender: FakeSender) -> None:
    news = shop.segment("news")
    ann = shop.person("ann")
    shop.person("bob")
    shop.person("unsubscribed", consent="unsubscribed")
    start = clock.now() + 2 * HOUR
    campaign = shop.campaign([news], schedule=ScheduleIn(at=start))
    assert campaign.status == "scheduled"

    clock.advance(HOUR)
    shop.run_due()
    assert shop.show(campaign.id).status == "scheduled"  # not due yet: nothing snapshotted
    shop.set_lists("bob", ())  # leaves before the send
    cat = shop.person("cat")  # joins before the send

    clock.advance(HOUR)
    shop.run_due()
    dan = shop.person("dan")  # joins after the send
    shop.run_due()

    shown = shop.show(campaign.id)
    assert set(shop.recipients(campaign.id)) == {ann, cat}
    assert shown.status == "sent"
    assert shown.snapshot["recipients"] == 2
    assert shown.snapshot["not_marketable"] == 1  # the unsubscribed member
    assert dan not in shop.recipients(campaign.id)

    assert shop.send_due(fake_sender) == 2
    delivered = {m.recipients[0] for m in fake_sender.sent}
    assert delivered == {"ann@example.com", "cat@example.com"}
    progress = shop.show(campaign.id).progress
    assert progress is not None
    assert (progress.recipients, progress.queued, progress.sent, progress.skipped) == (2, 2, 2, 0)


def test_exclusion_segments_leave_their_members_out(shop: Shop, clock: ManualClock) -> None:
    news, vip = shop.segment("news"), shop.segment("vip")
    ann = shop.person("ann", lists=("news",))
    shop.person("vic", lists=("news", "vip"))
    shop.person("val", lists=("vip",))
    campaign = shop.campaign([news], exclude=[vip], schedule=ScheduleIn())
    shop.run_due()
    shown = shop.show(campaign.id)
    assert set(shop.recipients(campaign.id)) == {ann}
    assert shown.snapshot["excluded_by_segment"] == 1


def test_several_target_segments_reach_each_contact_once(shop: Shop) -> None:
    news, vip = shop.segment("news"), shop.segment("vip")
    both = shop.person("both", lists=("news", "vip"))
    only_vip = shop.person("only_vip", lists=("vip",))
    campaign = shop.campaign([news, vip], schedule=ScheduleIn())
    shop.run_due()
    assert sorted(shop.recipients(campaign.id)) == sorted([both, only_vip])


def test_local_time_sends_at_ten_in_each_recipients_zone(
    shop: Shop, clock: ManualClock, runtime: Runtime, fake_sender: FakeSender
) -> None:
    news = shop.segment("news")
    zones = {
        "berlin": "Europe/Berlin",
        "new_york": "America/New_York",
        "tokyo": "Asia/Tokyo",
        "nowhere": None,
    }
    people = {key: shop.person(key, **({"timezone": zone} if zone else {})) for key, zone in zones.items()}
    start = clock.now()  # Monday 2026-11-02 09:00 UTC: 10:00 in Berlin, 04:00 in New York, 18:00 in Tokyo
    campaign = shop.campaign([news], schedule=ScheduleIn(kind="local_time", local_time="10:00"))
    shop.run_due()
    recipients = shop.recipients(campaign.id)
    for key, contact_id in people.items():
        send_at = recipients[contact_id].send_at
        assert send_at == _outbox_send_at(runtime, recipients[contact_id].outbox_public_id)
        local = send_at.astimezone(ZoneInfo(zones[key] or "UTC"))
        assert (local.hour, local.minute) == (10, 0), key
        assert start <= send_at < start + timedelta(days=1), key
    # Berlin's 10:00 is now; New York's comes today at 15:00 UTC; Tokyo's 10:00 has passed, so tomorrow.
    assert recipients[people["berlin"]].send_at == start
    assert recipients[people["new_york"]].send_at == start.replace(hour=15)
    assert recipients[people["tokyo"]].send_at == start.replace(day=3, hour=1)
    assert shop.send_due(fake_sender) == 1
    clock.set(start.replace(hour=10))
    assert shop.send_due(fake_sender) == 1  # the contact without a zone: the shop's default, UTC
    clock.set(start.replace(hour=15))
    assert shop.send_due(fake_sender) == 1  # New York at 10:00 its time


def test_best_hour_uses_the_prediction_then_the_shops_clicks(
    shop: Shop, clock: ManualClock, runtime: Runtime
) -> None:
    news = shop.segment("news")
    predicted = shop.person("predicted", timezone="Europe/Berlin")
    unpredicted = shop.person("unpredicted", timezone="America/New_York")
    # The shop's past clicks: mostly at 14:xx in the clicker's zone (Tokyo, UTC+9, no daylight saving).
    clicker = shop.person("clicker", timezone="Asia/Tokyo", lists=())
    for day in range(3):
        shop.clicked(clicker, f"old-{day}", (clock.now() - timedelta(days=day + 1)).replace(hour=5, minute=5))
    shop.clicked(clicker, "old-x", (clock.now() - timedelta(days=5)).replace(hour=12))
    shop.flush()
    with runtime.uow() as uow:
        # Written last: a periodic predictions refresh on an earlier tick would replace hand-made scores.
        contacts.replace_predictions(
            uow.session,
            [
                ContactPredictionData(
                    contact_id=predicted,
                    computed_at=uow.now(),
                    version="test",
                    horizon_days=90,
                    status="ok",
                    best_send_hour=2 * 24 + 18,  # Wednesday 18:00 in Berlin: 18:00 is the hour of day used
                    send_time_model="test",
                )
            ],
        )
        campaign_id = service.create_campaign(
            uow,
            CampaignIn(
                name="best hour",
                template_name="campaign_test",
                segment_ids=[news],
                schedule=ScheduleIn(kind="best_hour"),
            ),
            runtime.settings,
        ).id
    shop.run_due()
    recipients = shop.recipients(campaign_id)
    berlin = recipients[predicted].send_at.astimezone(ZoneInfo("Europe/Berlin"))
    new_york = recipients[unpredicted].send_at.astimezone(ZoneInfo("America/New_York"))
    assert (berlin.date().isoformat(), berlin.hour) == ("2026-11-02", 18)
    assert (new_york.date().isoformat(), new_york.hour) == ("2026-11-02", 14)
    shown = shop.show(campaign_id)
    assert shown.snapshot["hour_sources"] == {"prediction": 1, "shop_clicks": 1}
    assert shown.snapshot["shop_best_hour"] == 14


def test_best_hour_without_predictions_or_clicks_uses_the_default(shop: Shop, runtime: Runtime) -> None:
    news = shop.segment("news")
    tokyo = shop.person("tokyo", timezone="Asia/Tokyo")
    campaign = shop.campaign([news], schedule=ScheduleIn(kind="best_hour"))
    shop.run_due()
    send_at = shop.recipients(campaign.id)[tokyo].send_at
    assert send_at.astimezone(ZoneInfo("Asia/Tokyo")).hour == runtime.settings.campaign_default_send_hour
    assert shop.show(campaign.id).snapshot["hour_sources"] == {"default": 1}


def test_throttling_spreads_send_times(shop: Shop, clock: ManualClock, fake_sender: FakeSender) -> None:
    news = shop.segment("news")
    shop.people("p", 10)
    start = clock.now()
    campaign = shop.campaign([news], schedule=ScheduleIn(throttle_per_hour=4))
    shop.run_due()
    times = sorted(r.send_at for r in shop.recipients(campaign.id).values())
    assert times[0] == start
    assert times[-1] == start + timedelta(minutes=15 * 9)
    per_hour = Counter((t - start) // HOUR for t in times)
    assert max(per_hour.values()) == 4
    assert shop.send_due(fake_sender) == 1
    clock.advance(HOUR)
    assert shop.send_due(fake_sender) == 4  # 15, 30, 45 and 60 minutes


def test_cancel_while_sending_withdraws_the_messages_still_queued(
    shop: Shop, clock: ManualClock, fake_sender: FakeSender
) -> None:
    news = shop.segment("news")
    shop.people("p", 8)
    campaign = shop.campaign([news], schedule=ScheduleIn(throttle_per_hour=4))
    shop.run_due()
    assert shop.send_due(fake_sender) == 1  # the first went out at once; 7 wait in the outbox
    with shop.runtime.uow() as uow:
        cancelled = service.cancel_campaign(uow, campaign.id)
    assert cancelled.snapshot["cancel"]["messages_skipped"] == 7
    clock.advance(3 * HOUR)
    assert shop.send_due(fake_sender) == 0
    with shop.runtime.uow() as uow:
        states = [
            delivery.get_message(uow.session, str(r.outbox_public_id))
            for r in shop.recipients(campaign.id).values()
        ]
    assert sorted(m.status for m in states) == ["sent"] + ["skipped"] * 7
    assert {m.skip_reason for m in states if m.status == "skipped"} == {"campaign cancelled"}


def test_running_the_start_job_twice_queues_each_message_once(shop: Shop, runtime: Runtime) -> None:
    news = shop.segment("news")
    shop.people("p", 7)
    campaign = shop.campaign([news], schedule=ScheduleIn())
    handler = runtime.registry.long_handlers["campaigns.start_due"]
    handler(runtime.uow, {})
    handler(runtime.uow, {})
    shop.run_due()
    with runtime.uow() as uow:
        rows = [m for m in delivery.list_outbox(uow.session, limit=1000) if m.source_kind == "campaign"]
    assert len(rows) == 7
    assert {m.idempotency_key for m in rows} == {
        f"campaign:{campaign.id}:contact:{c}" for c in shop.recipients(campaign.id)
    }
    assert all(m.source_id == str(campaign.id) for m in rows)


def test_a_campaign_whose_queueing_stopped_midway_is_finished_by_the_next_run(runtime: Runtime) -> None:
    # No inline jobs: the worker's own periodic start job must not step in while this one "dies".
    runtime = Runtime(
        runtime.settings.model_copy(update={"inline_jobs": False}),
        clock=runtime.clock,
        database=runtime.database,
        registry=runtime.registry,
    )
    shop = Shop(runtime)
    news = shop.segment("news")
    shop.people("p", 120)  # batches of 50 in these tests
    campaign = shop.campaign([news], schedule=ScheduleIn())
    calls = 0
    real = delivery.enqueue_many

    def dies_on_the_second_batch(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery, "enqueue_many", dies_on_the_second_batch)
        with pytest.raises(RuntimeError):
            shop.run_due()
    midway = shop.show(campaign.id)
    assert midway.status == "sending"
    assert midway.progress is not None and midway.progress.queued == 50  # the first batch committed
    shop.run_due()
    done = shop.show(campaign.id)
    assert done.status == "sent"
    assert done.progress is not None and done.progress.queued == 120
    with runtime.uow() as uow:
        rows = [m for m in delivery.list_outbox(uow.session, limit=1000) if m.source_kind == "campaign"]
    assert len(rows) == 120


def test_cancel_before_the_start_sends_nothing(shop: Shop, clock: ManualClock) -> None:
    news = shop.segment("news")
    shop.people("p", 3)
    campaign = shop.campaign([news], schedule=ScheduleIn(at=clock.now() + HOUR))
    with shop.runtime.uow() as uow:
        cancelled = service.cancel_campaign(uow, campaign.id)
    assert cancelled.status == "cancelled"
    clock.advance(2 * HOUR)
    shop.run_due()
    assert shop.recipients(campaign.id) == {}
    assert shop.show(campaign.id).status == "cancelled"


def test_editing_refuses_a_started_campaign_and_names_the_field(shop: Shop) -> None:
    from mailwright.campaigns.schemas import CampaignUpdate
    from mailwright.core.errors import Conflict, NotFound

    news = shop.segment("news")
    shop.person("ann")
    campaign = shop.campaign([news], schedule=ScheduleIn())
    shop.run_due()
    with shop.runtime.uow() as uow, pytest.raises(Conflict) as refused:
        service.update_campaign(uow, campaign.id, CampaignUpdate(template_name="campaign_test_b"))
    assert refused.value.field == "status"
    draft = shop.campaign([news])
    with shop.runtime.uow() as uow, pytest.raises(NotFound) as missing:
        service.update_campaign(uow, draft.name, CampaignUpdate(segment_ids=[news, 999_999]))
    assert missing.value.field == "segment_ids[1]"
    assert shop.show(draft.id).segment_ids == [news]  # nothing half-written


def test_a_contact_erased_between_snapshot_and_queueing_is_dropped(runtime: Runtime) -> None:
    runtime = Runtime(
        runtime.settings.model_copy(update={"inline_jobs": False}),
        clock=runtime.clock,
        database=runtime.database,
        registry=runtime.registry,
    )
    shop = Shop(runtime)
    news = shop.segment("news")
    ids = shop.people("p", 5)
    campaign = shop.campaign([news], schedule=ScheduleIn())
    real = delivery.enqueue_many
    erased = False

    def erase_first(uow: Any, items: Any) -> Any:
        nonlocal erased
        if not erased:
            contacts.erase(uow.session, ids[2], source="test", now=uow.now())
            erased = True
        return real(uow, items)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(delivery, "enqueue_many", erase_first)
        shop.run_due()
    recipients = shop.recipients(campaign.id)
    # The erased contact's snapshot row went with it (erasure deletes the profile); the batch went on.
    assert ids[2] not in recipients
    assert sorted(c for c, r in recipients.items() if r.status == "queued") == sorted(set(ids) - {ids[2]})
    assert shop.show(campaign.id).status == "sent"


def test_progress_of_a_large_campaign_counts_sent_and_skipped(
    shop: Shop, runtime: Runtime, fake_sender: FakeSender
) -> None:
    from mailwright.campaigns import outbox

    news = shop.segment("news")
    ids = shop.people("p", 260)  # statuses are read in bulk
    campaign = shop.campaign([news], schedule=ScheduleIn())
    shop.run_due()
    with runtime.uow() as uow:  # ten unsubscribe after the snapshot: delivery's guard skips them at send time
        for contact_id in ids[:10]:
            contacts.set_consent(uow.session, contact_id, "unsubscribed", source="test", now=uow.now())
    assert shop.send_due(fake_sender) == 250
    shown = shop.show(campaign.id)
    assert shown.progress is not None
    assert (
        shown.progress.recipients,
        shown.progress.queued,
        shown.progress.sent,
        shown.progress.skipped,
    ) == (
        260,
        260,
        250,
        10,
    )
    recipients = list(shop.recipients(campaign.id).values())
    messages = [(r.contact_id, str(r.outbox_public_id)) for r in recipients]
    with runtime.uow() as uow:
        bulk = outbox.message_states(uow.session, [p for _, p in messages])
        exact = {p: delivery.get_message(uow.session, p).status for _, p in messages}
    assert bulk == exact


def test_a_campaign_holdout_is_sent_nothing_and_the_report_measures_the_lift(
    shop: Shop, clock: ManualClock, fake_sender: FakeSender
) -> None:
    from mailwright.analytics.service import build_report
    from mailwright.campaigns.abtest import held_out

    news = shop.segment("news")
    people = shop.people("h", 80)
    campaign = shop.campaign([news], schedule=ScheduleIn(at=clock.now()), holdout_percent=25)
    assert campaign.holdout_percent == 25
    shop.run_due()
    held = {c for c in people if held_out(campaign.id, c, 25)}
    assert 8 <= len(held) <= 35
    recipients = shop.recipients(campaign.id)
    assert {c for c, r in recipients.items() if r.status == "held_out"} == held
    assert all(
        r.phase == "holdout" and r.outbox_public_id is None for c, r in recipients.items() if c in held
    )
    assert shop.send_due(fake_sender) == len(people) - len(held)
    keys = {cid: key for key, cid in shop.ids.items()}
    assert {r for m in fake_sender.sent for r in m.recipients} == {
        f"{keys[c]}@example.com" for c in people if c not in held
    }
    shown = shop.show(campaign.id)
    assert (shown.progress.held_out, shown.progress.recipients) == (len(held), len(people) - len(held))
    assert shown.status == "sent"

    # Two sent recipients and one held-out recipient order within the 14-day window.
    sent_buyers = [keys[c] for c in people if c not in held][:2]
    held_buyer = keys[sorted(held)[0]]
    clock.advance(timedelta(days=2))
    shop.orders(
        [
            (sent_buyers[0], 30.0, clock.now()),
            (sent_buyers[1], 50.0, clock.now()),
            (held_buyer, 20.0, clock.now()),
        ]
    )
    with shop.runtime.uow() as uow:
        report = build_report(uow, shop.runtime.settings, since=clock.now() - timedelta(days=3))
    (lift,) = [lift for lift in report.lifts if lift.kind == "campaign"]
    assert (lift.flow_id, lift.n_sent, lift.n_holdout) == (campaign.id, len(people) - len(held), len(held))
    assert lift.conversion is not None
    n_sent, n_held = len(people) - len(held), len(held)
    assert lift.conversion["sent"] == pytest.approx(2 / n_sent)
    assert lift.conversion["held_out"] == pytest.approx(1 / n_held)
