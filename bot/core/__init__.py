"""The domain: models, ids, errors, clock, validation, limits, lineage, poll policy, services. Imports nothing outside ``bot.core``."""
