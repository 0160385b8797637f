"""Running in production: logging, the health/metrics endpoint."""
