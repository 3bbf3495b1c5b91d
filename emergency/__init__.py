"""Emergency linkage (应急联动): incidents, linked agencies and units, driven by the shared workflow.

A Django app of its own (label "emergency") inside dispatch/, so that its tables and migrations stay
apart from the hotline's work orders while it shares their workflow table, actions and event log.
"""
