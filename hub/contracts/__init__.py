"""Contracts: the contract and service rules of the iTICKET terms (Art. 5–16, 23–28, 32).

Pure domain, no I/O: ``model`` (data), ``lifecycle`` (commands and the transition table,
terms and renewal), ``money`` (fees, tax, late fees, surcharges, outage refunds),
``invoice`` (monthly invoice as JSON or CSV), ``hours`` (server and support hours),
``changes`` (the operator commands' own rules), ``views`` and ``gates`` (what the API
answers and lets through). Adapters: ``store`` (records in Redis), ``sync`` (a facility
in line with its contract) and ``service`` (``ContractService``, the use cases).
docs/contracts.md states each rule with its article and the decisions taken.
"""
