"""govml: executable machine-learning model governance.

>>> import govml
>>> client = govml.connect()          # ./.govml, or GOVML_HOME / GOVML_DATABASE_URL
"""

from govml.client import Client, connect
from govml.domain.records import Model, ModelVersion, RiskTier
from govml.errors import GovmlError

__all__ = ["Client", "GovmlError", "Model", "ModelVersion", "RiskTier", "__version__", "connect"]
__version__ = "0.1.0"
