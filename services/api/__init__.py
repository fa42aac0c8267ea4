"""The HTTP API: ingress, auth, validation; it owns no data."""
