"""The processes of the platform: the four services and the gateway."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Component:
    name: str
    package: str
    settings_class: str
    port_setting: str

    @property
    def migrations(self) -> Path:
        module = importlib.import_module(self.package)
        assert module.__file__ is not None
        return Path(module.__file__).parent / "migrations"

    def settings(self, **overrides: Any) -> Any:
        module = importlib.import_module(f"{self.package}.settings")
        return getattr(module, self.settings_class)(**overrides)

    def create_app(self, settings: Any = None) -> Any:
        module = importlib.import_module(f"{self.package}.app")
        return module.create_app(settings)


SERVICES = (
    Component("membership", "services.membership", "MembershipSettings", "CLOCK_MEMBERSHIP_PORT"),
    Component("catalog", "services.catalog", "CatalogSettings", "CLOCK_CATALOG_PORT"),
    Component("matching", "services.matching", "MatchingSettings", "CLOCK_MATCHING_PORT"),
    Component("reporting", "services.reporting", "ReportingSettings", "CLOCK_REPORTING_PORT"),
)
GATEWAY = Component("gateway", "gateway", "GatewaySettings", "CLOCK_GATEWAY_PORT")
COMPONENTS = {c.name: c for c in (*SERVICES, GATEWAY)}
