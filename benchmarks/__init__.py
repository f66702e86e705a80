"""Product benchmarks (``make bench``): run them as modules from the repository root,
``python -m benchmarks.run``; they are not part of the installed package."""
