"""Analytics: what each email earned: metrics, attribution of orders to messages, holdout lift, A/B decisions, reports."""
