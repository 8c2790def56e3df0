"""Stresses: deterministic transforms of a block's simulated returns.

Per block, the model draws the returns once; a stress rewrites them into a second buffer
(splice a historical episode, apply a one-off shock, rescale the volatility or correlation of
a window, shift its drift) and the policies run on that buffer, so stressed and unstressed
outcomes are paired path by path. See ``docs/stress.md``.

The flow for the engine: build each stress with :func:`stress_from_config` (or the classes),
check it against the run with :func:`resolve` (before any simulation), then per chunk call
:func:`apply_stress` (or, on a buffer holding a copy of the chunk, :func:`rewrite_stress` then
:func:`restore_stress`, which touch only the stress's window); a random splice also needs
:func:`splice_steps` per block.
"""

from .episodes import EPISODES, Episode, episode_returns, episode_table, get_episode
from .resolve import MODEL_SUPPORT, ResolvedStress, StressContext, fit_beta, resolve
from .specs import (
    STRESS_KINDS,
    CorrelationStress,
    DriftStress,
    HistoricalEpisode,
    Proxy,
    Shock,
    Stress,
    VolatilityStress,
    stress_from_config,
)
from .transforms import apply_stress, restore_stress, rewrite_stress, splice_steps

__all__ = [
    "EPISODES",
    "MODEL_SUPPORT",
    "STRESS_KINDS",
    "CorrelationStress",
    "DriftStress",
    "Episode",
    "HistoricalEpisode",
    "Proxy",
    "ResolvedStress",
    "Shock",
    "Stress",
    "StressContext",
    "VolatilityStress",
    "apply_stress",
    "episode_returns",
    "episode_table",
    "fit_beta",
    "get_episode",
    "resolve",
    "restore_stress",
    "rewrite_stress",
    "splice_steps",
    "stress_from_config",
]
