"""Voice call providers: the ``CallProvider`` protocol and its implementations."""
