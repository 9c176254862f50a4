"""Predictions: CLV, churn risk, revenue, next order, recommendations and send time, with their evaluation.

Every function here is pure: it takes pandas frames of transactions (see `frames.TRANSACTION_COLUMNS`) and an
explicit cut-off datetime, and returns plain frozen dataclasses or frames. Nothing reads the wall clock or a
database; storage and scheduling are wired on top of these functions.
"""
