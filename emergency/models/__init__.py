"""Models of the emergency app, one module per concern: incidents and linkage; units and positions; what was
exchanged with the outside (CAP messages issued, incidents imported from EIDOs)."""

from emergency.models.exchange import *  # noqa: F403
from emergency.models.incidents import *  # noqa: F403
from emergency.models.units import *  # noqa: F403
