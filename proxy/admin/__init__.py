"""The operator's side: the HTTP admin API (`api`), the control behind it (`control`), the audit log.

May import every other package of proxy/; the data plane never imports this one.
"""
