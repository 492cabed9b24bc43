"""vgen: a self-hosted video-generation task service."""

__version__ = "0.1.0"
