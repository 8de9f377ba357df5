"""What runs inside the container image: the entrypoint and the health check."""
