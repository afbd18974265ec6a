"""The "parallel LSTM training" study: an LSTM from scratch in NumPy (BPTT by hand), its Numba-parallel CPU
twin and a Numba CUDA version, all computing the same numbers from one flat parameter vector.

Import submodules directly (``hpcast.models.scratch.train``); Numba loads only when its versions are used.
"""

__all__: list[str] = []
