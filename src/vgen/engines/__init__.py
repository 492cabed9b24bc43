"""Engines turn an accepted task into an MP4: one module per engine behind `base.Engine`."""
