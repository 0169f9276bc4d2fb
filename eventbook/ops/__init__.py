"""Service information, health checks and the documentation pages' assets."""
