"""Handlers of the events the matching service consumes, by publishing service and event type.

The catalogue's lab, competence, equipment and service events feed the index, its initiative
events the initiatives proposed to demands; the membership events of members (admitted,
suspended, reinstated, withdrawn, expired) hide or show a centre's entries and initiatives.
See `index.py` and `initiatives.py`.
"""

from __future__ import annotations

from kernel.runtime import Subscriptions
from services.matching.index import handlers, membership_handlers

SUBSCRIPTIONS: Subscriptions = {"catalog": handlers(), "membership": membership_handlers()}
