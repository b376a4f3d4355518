"""collbot: a voice collections robot for Asterisk."""

__version__ = "0.1.0"
