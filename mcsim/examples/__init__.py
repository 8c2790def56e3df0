"""Worked examples of extending mcsim, such as custom rebalancing rules named by scenarios.

Each example is meant to be read and copied: :mod:`mcsim.examples.rules` holds custom rules
written against the signature of :class:`mcsim.Custom`; ``configs/bands_5_25.toml`` runs
:func:`~mcsim.examples.rules.momentum_tilt_nb` as ``"mcsim.examples.rules:momentum_tilt_nb"``.
"""
