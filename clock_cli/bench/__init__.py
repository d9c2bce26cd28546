"""`clock bench`: the whole platform under load on this machine (issue #8).

Starts `clock run` with data of its own (see `platform`), drives it with `hey` and measures:
the gateway against the catalog called directly (`gateway`), catalogue reads at a fixed rate
(`reads`), matches and time to matchable (`matching`), commit-to-commit event latency
(`events`), the outbox relay's sustained rate (`relay`), resident memory (`memory`), and adds
the figures of the last `clock reporting bench` (`reporting`).
"""
