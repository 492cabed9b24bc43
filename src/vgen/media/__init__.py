"""Media: safe image intake, the local renderer, video probing."""
