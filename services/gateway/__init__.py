"""The gateway: the platform's only public port, proxying /api/* to the backend."""
