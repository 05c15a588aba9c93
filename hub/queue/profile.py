"""What a queue's public view says of its facility and counter (``QueueState.profile``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Profile:
    """What a queue's public view says of its facility and counter (from the facility record
    when staff change its settings), so monitors and patient pages show a change live."""

    name: str = ""
    label: str = ""
    lang: str = "ja"
    rooms: tuple[tuple[str, str], ...] = ()
    """(room id, label) in display order."""
    counters: tuple[str, ...] = ()
    """The facility's counters now: a counter added or removed changes every queue's profile,
    so open monitors and the facility channels of every hub learn of it live."""

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "label": self.label,
            "lang": self.lang,
            "rooms": [{"room": room, "label": label} for room, label in self.rooms],
            "counters": list(self.counters),
        }
