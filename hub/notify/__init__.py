"""Notifications to patients (issue 17): near-turn, called, recalled and absent messages by
Web Push, e-mail or LINE, sent by the outbox group ``notify`` (hub/notify/worker.py).

``channels`` holds the shared names (``Message``, ``SendResult``, ``NotifyChannel``,
``CHANNELS``); ``rules`` decides from one outbox entry (pure); ``store`` keeps the
subscriptions (sealed at rest) and the sent markers; ``wiring`` builds the channels and the
group from the settings.
"""
