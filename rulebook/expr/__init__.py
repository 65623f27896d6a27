"""The condition language: a safe subset of Python expression syntax, never ``eval``ed."""
