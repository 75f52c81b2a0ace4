"""Offline tooling, kept out of the runtime image: the local stack, the process group, the
benchmarks and the screener's training (`pip install -e '.[training]'` for scikit-learn)."""
