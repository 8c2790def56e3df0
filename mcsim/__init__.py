"""mcsim: Monte Carlo scenarios for portfolio rebalancing policies.

Simulate correlated return paths from models fitted to history, run every rebalancing
policy along the same paths with costs and taxes, and compare the outcome distributions.

>>> import mcsim
>>> scenario = mcsim.Scenario.from_toml(mcsim.default_scenario_path())  # doctest: +SKIP
>>> result = mcsim.run(scenario, n_paths=2_000, seed=1)                  # doctest: +SKIP
>>> result.summary.loc[("calendar_annual", "terminal_wealth")]          # doctest: +SKIP
"""

from ._version import __version__
from .config import DataConfig, Scenario, SimulationConfig
from .costs import CostModel
from .data import list_datasets, load_dataset, load_returns
from .engine import regenerate_path, run
from .errors import (
    ConfigError,
    ConvergenceWarning,
    DataError,
    McsimError,
    ModelFitError,
    NumericalWarning,
)
from .failure import FailureAnatomy, FailureConfig
from .flows import CashFlow
from .learned import LearnedModel, LearnedPolicy
from .models import (
    BootstrapModel,
    FactorModel,
    GarchModel,
    GaussianModel,
    HistoricalWindowsModel,
    RegimeModel,
    ReturnModel,
    StudentTModel,
)
from .plan import prepare
from .policies import (
    CPPI,
    BuyAndHold,
    Calendar,
    CalendarThreshold,
    Custom,
    MeanVariance,
    RiskParity,
    TargetVolatility,
    Threshold,
    VolatilityTarget,
)
from .results import RESULT_METRICS as METRICS
from .results import SimulationResult
from .scenarios import default_scenario_path
from .stress import (
    CorrelationStress,
    DriftStress,
    HistoricalEpisode,
    Proxy,
    Shock,
    Stress,
    VolatilityStress,
)
from .taxes import TaxConfig

__all__ = [
    "CPPI",
    "METRICS",
    "BootstrapModel",
    "BuyAndHold",
    "Calendar",
    "CalendarThreshold",
    "CashFlow",
    "ConfigError",
    "ConvergenceWarning",
    "CorrelationStress",
    "CostModel",
    "Custom",
    "DataConfig",
    "DataError",
    "DriftStress",
    "FactorModel",
    "FailureAnatomy",
    "FailureConfig",
    "GarchModel",
    "GaussianModel",
    "HistoricalEpisode",
    "HistoricalWindowsModel",
    "LearnedModel",
    "LearnedPolicy",
    "McsimError",
    "MeanVariance",
    "ModelFitError",
    "NumericalWarning",
    "Proxy",
    "RegimeModel",
    "ReturnModel",
    "RiskParity",
    "Scenario",
    "Shock",
    "SimulationConfig",
    "SimulationResult",
    "Stress",
    "StudentTModel",
    "TargetVolatility",
    "TaxConfig",
    "Threshold",
    "VolatilityStress",
    "VolatilityTarget",
    "__version__",
    "default_scenario_path",
    "list_datasets",
    "load_dataset",
    "load_returns",
    "prepare",
    "regenerate_path",
    "run",
]
