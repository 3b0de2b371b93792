"""The readiness scorecard: seven failover gates scored 0/1/2 from evidence the proxy holds (issue 13)."""
