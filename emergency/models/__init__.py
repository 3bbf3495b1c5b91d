"""Models of the emergency app, one module per concern: incidents and linkage; units and positions."""

from emergency.models.incidents import *  # noqa: F403
from emergency.models.units import *  # noqa: F403
