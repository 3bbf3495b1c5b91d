"""Deadlines and escalation: the working calendar (official, published or provisional), time limits and SLA
policies, stage clocks' timers, and the timer worker's firing path (warning, yellow card, red card)."""
