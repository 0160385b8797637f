"""The video service: HTTP transport with the money rule, answer parsing, dialect adapters."""
