"""Tracking: open pixel, click redirect, unsubscribe and preferences, sign-up and double opt-in, bounces, complaints."""
