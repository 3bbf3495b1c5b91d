"""The ticket page: one ticket with everything about it and a button for every action the workflow allows."""
