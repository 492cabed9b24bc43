"""HTTP layer: the app factory, auth, error mapping and one router per dialect."""
