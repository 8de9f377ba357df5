"""The Flask app a user would write instead of TorchServe: one request, one model call.

The classic lecture setup, served by gunicorn (bench/gunicorn_conf.py: one sync worker per
core, one torch thread each). Same model files, input code and answers as the other
Python contestants (bench/serving.py); same routes; raw body or JSON (no multipart, no
zero-shot labels).

    gunicorn -c bench/gunicorn_conf.py bench.flask_app:app
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request

from bench.serving import JSON_TYPE, MODELS, error, one_thread, served
from handlers.errors import InputError

# One thread per worker (gunicorn runs one worker per core): torch's, and numpy's OpenBLAS
# (the image decoding), whose idle threads otherwise spin for a core the other worker needs.
one_thread()

app = Flask(__name__)
models = {model: served(model) for model in MODELS}


@app.get("/ping")
def ping() -> dict[str, Any]:
    # The worker's pid lets the benchmark wait until every worker has loaded the models.
    return {"status": "Healthy", "pid": os.getpid()}


@app.post("/predictions/<model>")
def predict(model: str) -> Response:
    if model not in models:
        return Response(b'{"code": 404, "message": "no such model"}', 404, mimetype=JSON_TYPE)
    item = models[model].read(request.get_data(), request.content_type or "")
    return Response(models[model].answer([item])[0], mimetype=JSON_TYPE)


@app.errorhandler(InputError)
def input_error(exc: InputError) -> Response:
    status, body = error(exc)
    return Response(body, status=status, mimetype=JSON_TYPE)
