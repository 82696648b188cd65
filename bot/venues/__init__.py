"""Venue adapters: a wire spec (data), a pure parser, and the shared streaming shell."""
