"""A model family defined only in the tests (toy.py)."""
