"""REST API of the members app (DESIGN §9): register, look up, summary."""
