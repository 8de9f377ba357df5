"""Seeded fuzzing of the served models: malformed requests beside valid traffic."""
