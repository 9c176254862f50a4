"""Senders behind one interface: SMTP, Maildir (the demo's default) and an in-memory fake for tests."""

from mailwright.core.settings import Settings
from mailwright.delivery.senders.base import Sender, SendResult
from mailwright.delivery.senders.fake import FakeSender
from mailwright.delivery.senders.maildir import MaildirSender
from mailwright.delivery.senders.smtp import SmtpSender

__all__ = ["FakeSender", "MaildirSender", "SendResult", "Sender", "SmtpSender", "build_sender"]


def build_sender(settings: Settings) -> Sender:
    """The sender the settings name."""
    if settings.sender == "smtp":
        return SmtpSender(
            settings.smtp_host,
            settings.smtp_port,
            security=settings.smtp_security,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout=settings.smtp_timeout,
            messages_per_second=settings.messages_per_second,
            per_domain_concurrency=settings.per_domain_concurrency,
        )
    if settings.sender == "fake":
        return FakeSender()
    return MaildirSender(settings.maildir_path)
