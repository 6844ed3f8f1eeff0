"""The `eventrelay` admin command line."""
