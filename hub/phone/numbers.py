"""Phone numbers of the call-out option (pure): checked and stored as E.164 with
``phonenumberslite`` (region JP), masked for the history."""

from __future__ import annotations

import phonenumbers

from hub.errors import BadRequest

CONSENT_TEXT_VERSION = "phone-consent-1"
"""The version of the consent text the patient agreed to (patient page, desk form)."""
REGION = "JP"


def to_e164(text: str) -> str:
    """``text`` as an E.164 Japanese number (``+819012345678``); 400 ``invalid_phone``
    otherwise (numbers of other countries are refused)."""
    try:
        parsed = phonenumbers.parse(text, REGION)
    except phonenumbers.NumberParseException as exc:
        raise BadRequest("phone is not a phone number", code="invalid_phone") from exc
    if parsed.country_code != 81 or not phonenumbers.is_valid_number(parsed):
        raise BadRequest("phone is not a valid Japanese number", code="invalid_phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def national(e164: str) -> str:
    """The number as dialled in Japan (``090-1234-5678``); the input when unparsable."""
    try:
        parsed = phonenumbers.parse(e164, REGION)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def mask(e164: str) -> str:
    """``090-****-5678``: the middle groups hidden (a number without groups keeps its last
    four digits only)."""
    groups = national(e164).split("-")
    if len(groups) >= 3:
        return "-".join([groups[0], *("*" * len(g) for g in groups[1:-1]), groups[-1]])
    digits = "".join(c for c in e164 if c.isdigit())
    return "*" * max(0, len(digits) - 4) + digits[-4:]
