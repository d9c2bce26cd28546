"""CLOCK gateway: the platform's only public entry.

It authenticates clients by API key or by a bearer token of the platform's identity provider,
rate-limits them, refuses request bodies that are too large, too slow or too deeply nested,
replays the first response to a retried `Idempotency-Key`, records every write in an audit log,
passes each request to the owning service under `/api/v1/<service>/...` with a principal it
signs, propagates the request id and trace context, maps upstream failures to problem
documents, and serves one merged OpenAPI document of every service at `/api/v1/openapi.json`
(browsable at `/docs`).
"""
