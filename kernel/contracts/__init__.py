"""Every event contract of the platform, one module per publishing service.

Importing this package fills `kernel.events.registry`.
"""

from kernel.contracts import catalog, matching, membership
from kernel.events import registry

__all__ = ["catalog", "matching", "membership", "registry"]
