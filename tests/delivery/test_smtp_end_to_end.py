"""End to end through real SMTP: an aiosmtpd server on loopback receives signed, tracked messages."""

import email
import email.policy
import re
from pathlib import Path

import dkim
from sqlalchemy import select
from tests.delivery.conftest import MakeContact, RuntimeWith, dns_answer
from tests.delivery.smtp_sink import running_sink
from tests.support.server import free_port

from mailwright.delivery import service, tokens
from mailwright.delivery.senders import SmtpSender, build_sender
from mailwright.events.models import Event


def _key_file(tmp_path: Path, pem: bytes) -> Path:
    path = tmp_path / "dkim.pem"
    path.write_bytes(pem)
    return path


def test_messages_arrive_signed_tracked_and_unsubscribable(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, tmp_path: Path, dkim_pem: bytes
) -> None:
    port = free_port()
    rt = runtime_with(
        sender="smtp",
        smtp_port=port,
        dkim_selector="s1",
        dkim_domain="shop.test",
        dkim_private_key_file=_key_file(tmp_path, dkim_pem),
    )
    ann = make_contact("ann@example.org", first_name="Ann")
    bob = make_contact("bob@example.net", first_name="Bob")
    queued = {}
    with rt.uow() as uow:
        for cid in (ann, bob):
            queued[cid] = service.enqueue(
                uow,
                contact_id=cid,
                template_name="plain_test",
                idempotency_key=f"e2e:{cid}",
                source_kind="campaign",
                source_id="campaign:7",
                context={"event": {"item": "Linen shirt"}},
            )
    sender = build_sender(rt.settings)
    assert isinstance(sender, SmtpSender)
    with running_sink(port) as sink:
        report = service.send_due(rt, worker_id="w1", sender=sender)
        sender.close()
    assert report.sent == 2
    assert len(sink.received) == 2
    # Two messages to two domains: one connection each, reused within a domain.
    assert sender.connections_opened == 2

    key = tokens.signing_key(rt.settings)
    for got in sink.received:
        msg = email.message_from_bytes(got.data, policy=email.policy.default)
        cid = ann if got.rcpt_tos == ["ann@example.org"] else bob
        public_id = queued[cid].public_id
        # VERP envelope sender and the identifying headers.
        assert got.mail_from == f"bounce+{public_id}@bounces.shop.test"
        assert msg["Message-ID"] == f"<{public_id}@shop.test>"
        assert msg["From"] == "Mailwright Demo Shop <news@shop.test>"
        assert (
            msg["Date"] is not None
            and msg["List-Id"]
            and msg["Feedback-ID"].startswith("campaign-7:plain_test")
        )
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        https_url, mailto = re.findall(r"<([^>]+)>", msg["List-Unsubscribe"])
        assert mailto == f"mailto:unsubscribe+{public_id}@bounces.shop.test"
        assert https_url.startswith("https://shop.test/u/")
        assert tokens.verify(key, "unsubscribe", https_url.rsplit("/", 1)[1]) == (str(cid), public_id)
        # DKIM verifies, and h= covers what Gmail and Yahoo require.
        assert dkim.verify(got.data, dnsfunc=dns_answer(dkim_pem))
        signature = msg["DKIM-Signature"].replace("\r\n", "").replace(" ", "")
        signed = re.search(r"h=([^;]+)", signature)
        assert signed is not None
        covered = {h.lower() for h in signed.group(1).split(":")}
        assert {
            "from",
            "to",
            "subject",
            "date",
            "message-id",
            "list-unsubscribe",
            "list-unsubscribe-post",
        } <= covered
        assert "a=rsa-sha256" in signature and "c=relaxed/relaxed" in signature
        # multipart/alternative: text and HTML; the HTML's links are signed click URLs, the pixel is there.
        assert msg.get_content_type() == "multipart/alternative"
        text = msg.get_body(("plain",)).get_content()
        html = msg.get_body(("html",)).get_content()
        assert "Linen shirt" in text and "Linen shirt" in html
        clicks = re.findall(r'href="https://shop\.test/t/c/([^"]+)"', html)
        assert len(clicks) == 3  # the product twice (one token), the story once
        assert len(set(clicks)) == 2
        with rt.uow() as uow:
            detail = service.get_message(uow.session, public_id)
        assert detail.links == [
            "https://shop.test/products/1?size=m&color=red",
            "https://blog.example.org/story",
        ]
        for token in set(clicks):
            got_id, index = tokens.verify(key, "click", token)
            assert got_id == public_id and detail.links[int(index)]
        assert "blog.example.org" not in html and "products/1" not in html
        # The message's own links stay direct; the pixel is signed for this message.
        assert re.search(r'href="https://shop\.test/u/[^"]+">Unsubscribe', html)
        pixel = re.search(r'<img src="https://shop\.test/t/o/([^"]+)\.gif"', html)
        assert pixel is not None and tokens.verify(key, "open", pixel.group(1)) == (public_id,)
        assert detail.status == "sent" and detail.sent_at is not None and detail.subject == msg["Subject"]
        assert detail.attempts_log[0].outcome == "sent" and detail.attempts_log[0].smtp_code == 250

    with rt.uow() as uow:
        sent_events = list(uow.session.scalars(select(Event).where(Event.name == "Email Sent")))
    assert sorted(e.properties["message_id"] for e in sent_events) == sorted(
        q.public_id for q in queued.values()
    )
    props = sent_events[0].properties
    assert props["template"] == "plain_test" and props["source_kind"] == "campaign"
    assert props["source_id"] == "campaign:7" and props["category"] == "marketing"

    # Sending again sends nothing: the messages are done.
    assert service.send_due(rt, worker_id="w1", sender=build_sender(rt.settings)).claimed == 0


def test_maildir_sender_delivers_into_var_maildir(
    runtime_with: RuntimeWith, installed: None, make_contact: MakeContact, tmp_path: Path
) -> None:
    rt = runtime_with(sender="maildir", maildir_path=tmp_path / "maildir")
    cid = make_contact("cleo@example.org")
    with rt.uow() as uow:
        queued = service.enqueue(
            uow, contact_id=cid, template_name="welcome_1", idempotency_key="md:1", source_kind="flow"
        )
    report = service.send_due(rt, worker_id="w1")
    assert report.sent == 1
    files = list((tmp_path / "maildir" / "new").iterdir())
    assert len(files) == 1
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["Return-Path"] == f"<bounce+{queued.public_id}@bounces.shop.test>"
    assert msg["To"] == "cleo@example.org"
    assert msg["Message-ID"] == f"<{queued.public_id}@shop.test>"
    assert "/t/o/" in msg.get_body(("html",)).get_content()
