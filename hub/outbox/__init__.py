"""The outbox consumer framework: each consumer group reads every facility's outbox stream
(``jb:{F}:outbox``, written by ``hub/queue/lua/append.lua`` in the same call as the queue's
events), one lease holder per (facility, group), in stream order (docs/outbox.md)."""
