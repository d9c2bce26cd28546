"""Supply-chain challenges: a large enterprise publishes a challenge, small firms and the labs
of the member centres answer it together, the platform proposes the teams that could.

A challenge is published as a demand of its publisher (the *backing demand*), so that inviting
a proposed team reuses introductions and the award opens engagements like any demand's.
`models` and `schemas` are its tables and bodies, `service` its rules (`teams` the pure team
proposal), `api` its routes.
"""
