"""`make demo`: the whole service on this machine, with no internet (see demo/run.py)."""
