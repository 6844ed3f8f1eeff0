"""Outbound HTTP: the one client every call to an external API goes through (SSRF guard, caps, outcomes)."""
