"""Stands in for Cython's ``cython`` module where Cython is not installed.

sockio.py asks ``cython.compiled`` to choose between its C fast paths (the
compiled build, where Cython answers True at compile time) and plain Python;
without Cython, ``import cython`` fails and this answers False.
"""


class cython:  # noqa: N801 - named as the module it stands in for
    compiled = False
