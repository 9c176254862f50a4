"""Campaigns: one-off sends to segments, scheduling (fixed, local time, best hour), throttling, A/B tests with a winner."""
