"""Scenario files shipped with mcsim (installed as ``mcsim.configs``)."""
