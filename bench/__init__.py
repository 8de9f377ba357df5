"""Side-by-side benchmark: in-process limit, TorchServe (tuned, stock), Flask + gunicorn."""
