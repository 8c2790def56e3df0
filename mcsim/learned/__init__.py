"""The learned rebalancing policy: a model fitted on simulated paths decides, at each check,
whether to hold, trade to the band edge or trade to target (``docs/learned.md``).

- :mod:`.model`: the fitted model as plain arrays, its JSON file and its checks;
- :mod:`.regressors`: the scikit-learn regressors and their export;
- :mod:`.train`: fitted Q iteration over the check dates;
- :mod:`.policy`: the policy kind ``learned`` (:class:`LearnedPolicy`);
- :mod:`.run`: training the learned policies of a scenario that name no model file.
"""

from .model import FEATURES, REGRESSORS, LearnedModel
from .policy import LearnedPolicy, find_learned
from .train import TrainSettings, predict, train

__all__ = [
    "FEATURES",
    "REGRESSORS",
    "LearnedModel",
    "LearnedPolicy",
    "TrainSettings",
    "find_learned",
    "predict",
    "train",
]
