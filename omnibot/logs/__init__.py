"""Structured logging: request ids carried across threads, JSON or text lines, redaction of secrets."""
