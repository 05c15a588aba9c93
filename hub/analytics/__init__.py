"""Analytics: daily summaries of each queue, folded from its event stream before any trim."""
