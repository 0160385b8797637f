"""The poll loop: asks the upstream about due tasks and records what it says."""
