"""The registry: functions, versions, tenants and tokens."""
