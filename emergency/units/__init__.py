"""Units (fire engines, ambulances, rescue teams, utility crews): states, who may move them, assignment
and status actions, AVL positions, the nearest-units recommendation, the simulator, their API."""
