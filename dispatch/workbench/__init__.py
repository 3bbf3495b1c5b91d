"""The centre's workbench: queues per role, search and lists, export."""
