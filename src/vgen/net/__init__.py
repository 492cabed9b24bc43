"""Outbound connections to addresses a client names: the address policy and the pinning that
enforces it (image fetching, webhooks)."""
