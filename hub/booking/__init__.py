"""Time-band reservations (時間帯予約): per counter and date, bands with a capacity; a booking
becomes an ordinary ticket when its patient checks in (docs/bookings.md).

``config`` holds the settings (pure), ``model`` and ``rules`` the booking book of one queue
and date (pure), ``store`` its Redis keys, ``service`` the use cases and the day keeper."""
