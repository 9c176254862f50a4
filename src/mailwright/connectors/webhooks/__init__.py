"""Outbound webhooks: Mailwright's own events POSTed, signed, to the URLs a shop subscribes."""
