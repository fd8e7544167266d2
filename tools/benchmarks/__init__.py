"""The modules of ``tools/bench.py``, ganzoo's benchmark suite (not part of the package)."""
