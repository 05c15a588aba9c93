"""The phone call-out option (電話呼出オプション, Table 1): automated voice calls to patients
whose turn is near, fed by the facility outbox (group ``phone``); docs/phone.md."""
