"""Delivery: the outbox, senders (SMTP, Maildir, fake), DKIM, rate limits, retries and send-time guards."""
