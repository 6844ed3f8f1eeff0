"""eventrelay: a self-hostable events API on AWS (publish events, trigger external actions)."""

__version__ = "0.1.0"
