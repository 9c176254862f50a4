"""Flows: typed flow graphs, the durable engine that advances runs, triggers, collision rules, the built-in library, backtests."""
