"""The Flask app a user would write instead of TorchServe: one request, one model call.

The classic lecture setup, served by gunicorn (bench/gunicorn_conf.py: one sync worker per
core, one torch thread each). Same model files and input code as the served models
(bench/direct.py); same routes and answers; raw body or JSON (no multipart, no zero-shot labels).

    gunicorn -c bench/gunicorn_conf.py bench.flask_app:app
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import torch
from flask import Flask, Response, request
from threadpoolctl import threadpool_limits

from bench.direct import Cancer, Digits, MiniLM
from contracts import text
from handlers.errors import InputError, error_body, status_of
from handlers.image_wire import image_from_json
from handlers.payload import Payload, parse_json
from handlers.text_parsing import text_request

# One thread per worker (gunicorn runs one worker per core): torch's, and numpy's OpenBLAS
# (the image decoding), whose idle threads otherwise spin for a core the other worker needs.
torch.set_num_threads(1)
threadpool_limits(limits=1)

app = Flask(__name__)
digits, cancer, minilm = Digits(), Cancer(), MiniLM()


@app.get("/ping")
def ping() -> dict[str, Any]:
    # The worker's pid lets the benchmark wait until every worker has loaded the models.
    return {"status": "Healthy", "pid": os.getpid()}


@app.post("/predictions/digits")
def predict_digits() -> Any:
    payload = Payload(request.get_data(), request.mimetype)
    data = image_from_json(parse_json(payload)) if payload.is_json else payload.value
    return digits.predict([data])[0]


@app.post("/predictions/cancer")
def predict_cancer() -> Any:
    document = parse_json(Payload(request.get_data(), request.mimetype))
    return cancer.predict([document])


@app.post("/predictions/minilm")
def predict_minilm() -> Any:
    texts = text_request(Payload(request.get_data(), request.mimetype)).texts
    vectors, truncated = minilm.embed(texts)
    # The same JSON encoder as the served handler, so the comparison is of serving alone.
    answer = text.embedding_answer(vectors.contiguous().numpy(), truncated)
    body = orjson.dumps(answer, option=orjson.OPT_SERIALIZE_NUMPY)
    return Response(body, mimetype="application/json")


@app.errorhandler(InputError)
def input_error(error: InputError) -> Response:
    return Response(error_body(error), status=status_of(error), mimetype="application/json")
