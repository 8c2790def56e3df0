"""Naive reference implementations shared by tests and benchmarks.

Each fast kernel has a plain NumPy twin here, written for clarity rather than speed, that
tests compare against on small inputs. One module per area: ``engine`` (the step loop),
``models``, ``policies``, ``frictions``.
"""
