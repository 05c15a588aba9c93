"""The endpoint kinds: which option each needs and how its ``config`` is validated.

``KINDS[kind].validate_config(raw) -> dict`` (422 ``invalid_endpoint_config`` from the kind's
module): ``webhook`` takes no config; ``orca`` and ``fhir`` defer to
``hub.integrations.orca.validate_config`` / ``hub.integrations.fhir.validate_config``,
imported on first use. ORCA and FHIR endpoints need the facility's ``emr`` option.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from hub.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class Kind:
    name: str
    option: str | None
    """The facility option it needs (403 ``option_not_contracted`` without it)."""
    module: str | None
    """The module with ``validate_config`` (None: no config)."""
    generated_secret: bool
    """The hub makes the secret (a webhook's ``whsec_…``), else staff give it (password,
    token)."""
    personal_default: bool

    def validate_config(self, raw: dict[str, Any]) -> dict[str, Any]:
        if self.module is None:
            if raw:
                raise Unprocessable(
                    f"a {self.name} endpoint takes no config", code="invalid_endpoint_config"
                )
            return {}
        validated: dict[str, Any] = importlib.import_module(self.module).validate_config(raw)
        return validated


KINDS: dict[str, Kind] = {
    "webhook": Kind("webhook", None, None, True, False),
    "orca": Kind("orca", "emr", "hub.integrations.orca", False, True),
    "fhir": Kind("fhir", "emr", "hub.integrations.fhir", False, True),
}
