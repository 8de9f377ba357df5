"""Start, wait for and stop a TorchServe instance with this project's configuration."""
