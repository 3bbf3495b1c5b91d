"""REST API of the workflow side: tickets and their lifecycle (tickets.py), work orders (work_orders.py), the
ticket map (map.py). config/urls.py mounts them."""
