"""E-supervision (电子监察): agency KPIs with their drill-down, the yellow/red card lists, exports.

Read paths only: nothing here writes a domain row.
"""
