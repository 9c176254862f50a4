"""A/B campaigns end to end: the split, opens and clicks recorded as tracking does, the winner sent to the rest."""

from collections import Counter
from datetime import datetime, timedelta
from email import message_from_bytes, policy

from tests.campaigns.shop import Shop, ab

from mailwright.campaigns import service
from mailwright.campaigns.schemas import ScheduleIn
from mailwright.core.clock import ManualClock
from mailwright.core.runtime import Runtime
from mailwright.delivery import service as delivery
from mailwright.delivery.senders import FakeSender

HOUR = timedelta(hours=1)


def _engage(shop: Shop, campaign_id: int, clock: ManualClock, rule: dict[str, int]) -> dict[str, int]:
    """Open (by the rule: every n-th recipient of a variant opens) and return how many opened per variant."""
    opened: dict[str, int] = {}
    seen: dict[str, int] = {}
    for r in sorted(shop.recipients(campaign_id).values(), key=lambda r: r.contact_id):
        if r.phase != "test":
            continue
        assert r.variant is not None and r.outbox_public_id is not None
        seen[r.variant] = seen.get(r.variant, 0) + 1
        # Every recipient's mail is opened once by a security scanner: machine opens never count.
        shop.opened(r.contact_id, r.outbox_public_id, clock.now() + timedelta(seconds=1), machine=True)
        if seen[r.variant] % rule[r.variant] == 0:
            shop.opened(r.contact_id, r.outbox_public_id, clock.now() + HOUR)
            opened[r.variant] = opened.get(r.variant, 0) + 1
    shop.flush()
    return opened


def test_the_better_subject_wins_and_goes_to_the_rest(
    shop: Shop, clock: ManualClock, runtime: Runtime, fake_sender: FakeSender
) -> None:
    news = shop.segment("news")
    shop.people("p", 240)
    start = clock.now()
    campaign = shop.campaign([news], schedule=ScheduleIn(), ab=ab("opens", share=0.5, wait=4))
    shop.run_due()
    testing = shop.show(campaign.id)
    assert testing.status == "testing"
    assert testing.decide_at == start + 4 * HOUR
    sizes = {k: v.recipients for k, v in testing.by_variant.items()}
    assert 120 - 40 <= sizes["A"] + sizes["B"] <= 120 + 40  # about half of 240 in the test
    assert abs(sizes["A"] - sizes["B"]) <= 40
    assert testing.by_variant["rest"].pending == sizes["rest"] == 240 - sizes["A"] - sizes["B"]
    assert shop.send_due(fake_sender) == sizes["A"] + sizes["B"]  # only the test share goes out now

    opened = _engage(shop, campaign.id, clock, {"A": 10, "B": 2})  # 10 % against 50 %
    clock.advance(3 * HOUR)
    shop.run_due()
    assert shop.show(campaign.id).status == "testing"  # the waiting period is not over
    clock.advance(HOUR)
    shop.run_due()

    decided = shop.show(campaign.id)
    assert decided.status == "sent"
    assert decided.winner == "B"
    assert decided.decision is not None
    assert decided.decision["significant"] is True
    assert decided.decision["metric"] == "opens"
    numbers = {v["name"]: v for v in decided.decision["variants"]}
    assert numbers["A"]["recipients"] == sizes["A"] and numbers["B"]["recipients"] == sizes["B"]
    assert numbers["A"]["successes"] == opened["A"] and numbers["B"]["successes"] == opened["B"]
    assert numbers["B"]["probability_best"] >= 0.9
    assert decided.by_variant["A"].opens == opened["A"]
    # The rest got the winner, now, with its subject line.
    rest = [r for r in shop.recipients(campaign.id).values() if r.phase == "rest"]
    assert rest and all(r.variant == "B" and r.status == "queued" and r.send_at == clock.now() for r in rest)
    with runtime.uow() as uow:
        message = delivery.get_message(uow.session, str(rest[0].outbox_public_id))
    assert message.context["message"]["subject_variant"] == 1
    assert message.source_id == f"{campaign.id}:B"
    assert shop.send_due(fake_sender) == len(rest)
    # What the recipients saw: the test share got both subject lines, the rest only the winner's.
    subjects = [message_from_bytes(m.data, policy=policy.default)["Subject"] for m in fake_sender.sent]
    first_wave, second_wave = subjects[: sizes["A"] + sizes["B"]], subjects[sizes["A"] + sizes["B"] :]
    assert Counter(s.startswith("Autumn sale") for s in first_wave) == {True: sizes["A"], False: sizes["B"]}
    assert set(second_wave) == {"Last days of the autumn sale"}
    assert decided.by_variant["B"].recipients == sizes["B"] + len(rest)


def test_identical_variants_are_not_declared_significant(shop: Shop, clock: ManualClock) -> None:
    news = shop.segment("news")
    shop.people("p", 200)
    campaign = shop.campaign([news], schedule=ScheduleIn(), ab=ab("opens", share=0.6, wait=2))
    shop.run_due()
    _engage(shop, campaign.id, clock, {"A": 4, "B": 4})
    clock.advance(2 * HOUR)
    shop.run_due()
    decided = shop.show(campaign.id)
    assert decided.decision is not None
    assert decided.decision["significant"] is False
    assert "not significant" in decided.decision["reason"]
    assert decided.winner in ("A", "B")
    assert decided.status == "sent"  # the fallback still sends the rest


def test_clicks_decide_when_clicks_are_the_metric(shop: Shop, clock: ManualClock) -> None:
    news = shop.segment("news")
    shop.people("p", 200)
    campaign = shop.campaign(
        [news],
        schedule=ScheduleIn(),
        ab=ab("clicks", share=0.6, wait=1, A={}, B={"template_name": "campaign_test_b"}),
    )
    shop.run_due()
    for r in shop.recipients(campaign.id).values():
        if r.variant == "A" and r.contact_id % 2 == 0:
            shop.clicked(r.contact_id, str(r.outbox_public_id), clock.now() + HOUR / 2)
        if r.variant == "B":  # B's readers open (which does not count) but do not click
            shop.opened(r.contact_id, str(r.outbox_public_id), clock.now() + HOUR / 2)
    shop.flush()
    clock.advance(HOUR)
    shop.run_due()
    decided = shop.show(campaign.id)
    assert decided.winner == "A"
    assert decided.decision is not None and decided.decision["significant"] is True
    rest = [r for r in shop.recipients(campaign.id).values() if r.phase == "rest"]
    with shop.runtime.uow() as uow:
        assert (
            delivery.get_message(uow.session, str(rest[0].outbox_public_id)).template_name == "campaign_test"
        )


def test_cancel_during_the_test_keeps_the_winner_from_the_rest(shop: Shop, clock: ManualClock) -> None:
    news = shop.segment("news")
    shop.people("p", 60)
    campaign = shop.campaign([news], schedule=ScheduleIn(), ab=ab("opens", share=0.5, wait=1))
    shop.run_due()
    before = shop.show(campaign.id)
    with shop.runtime.uow() as uow:
        cancelled = service.cancel_campaign(uow, campaign.id)
    assert cancelled.status == "cancelled"
    cancel = cancelled.snapshot["cancel"]
    assert cancel["recipients_not_queued"] == before.by_variant["rest"].recipients
    assert (
        cancel["messages_still_queued"]
        == before.by_variant["A"].recipients + before.by_variant["B"].recipients
    )
    clock.advance(2 * HOUR)
    shop.run_due()
    after = shop.show(campaign.id)
    assert after.status == "cancelled" and after.winner is None
    assert after.progress is not None and after.progress.pending == 0
    assert {r.status for r in shop.recipients(campaign.id).values() if r.phase == "rest"} == {"cancelled"}


def test_revenue_per_recipient_counts_orders_placed_after_the_email(shop: Shop, clock: ManualClock) -> None:
    news = shop.segment("news")
    shop.people("p", 300)
    keys = {v: k for k, v in shop.ids.items()}
    campaign = shop.campaign(
        [news], schedule=ScheduleIn(), ab=ab("revenue_per_recipient", share=0.6, wait=24)
    )
    before = clock.now() - HOUR
    shop.run_due()
    placed: list[tuple[str, float, datetime]] = []
    counts = {"A": 0, "B": 0}
    for r in sorted(shop.recipients(campaign.id).values(), key=lambda r: r.contact_id):
        if r.variant == "A":
            counts["A"] += 1
            placed.append(
                (keys[r.contact_id], 500.0, before)
            )  # big orders, but before the email: not counted
            if counts["A"] % 10 == 0:
                placed.append((keys[r.contact_id], 20.0, clock.now() + 2 * HOUR))
        elif r.variant == "B":
            counts["B"] += 1
            if counts["B"] % 3 == 0:
                placed.append((keys[r.contact_id], 50.0, clock.now() + 3 * HOUR))
    shop.orders(placed)
    clock.advance(24 * HOUR)
    shop.run_due()
    decided = shop.show(campaign.id)
    assert decided.decision is not None
    numbers = {v["name"]: v for v in decided.decision["variants"]}
    assert numbers["A"]["revenue"] == 20.0 * (counts["A"] // 10)
    assert numbers["B"]["revenue"] == 50.0 * (counts["B"] // 3)
    assert numbers["B"]["successes"] == counts["B"] // 3  # recipients who ordered
    assert decided.winner == "B" and decided.decision["significant"] is True
    assert decided.decision["rule"]["model"] == "normal approximation of the mean"


def test_the_report_shows_each_variants_lift_with_its_interval(
    shop: Shop, clock: ManualClock, runtime: Runtime, fake_sender: FakeSender
) -> None:
    from mailwright.analytics.service import build_report
    from mailwright.analytics.stats import rate_difference

    news = shop.segment("news")
    shop.people("r", 200)
    campaign = shop.campaign([news], schedule=ScheduleIn(), ab=ab("opens", share=0.5, wait=4))
    shop.run_due()
    shop.send_due(fake_sender)
    _engage(shop, campaign.id, clock, {"A": 10, "B": 2})  # 10 % against 50 %
    clock.advance(5 * HOUR)
    shop.run_due()
    with runtime.uow() as uow:
        report = build_report(uow, runtime.settings)
    (test,) = [t for t in report.ab_tests if t["campaign_id"] == campaign.id]
    a, b = test["variants"]
    assert "lift" not in a
    expected = rate_difference(b["successes"], b["recipients"], a["successes"], a["recipients"])
    assert b["lift"] == {"difference": expected.difference, "low": expected.low, "high": expected.high}
    assert b["lift"]["low"] > 0 and b["probability_best"] > 0.9
