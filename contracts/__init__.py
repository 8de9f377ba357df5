"""What each kind of model reads and answers: the one place a wire format is written down.

    wire.py      a request ready to send: body bytes and Content-Type
    errors.py    the error body every refusal carries: ``{"code", "type", "message"}``
    ranking.py   classification answers: labels ranked by probability, rounded once
    metadata.py  the archive's ``metadata.json``: the model's kind and its constants
    image.py     digits-like models: one PNG/JPEG in, the top-k labels out
    vector.py    cancer-like models: rows of numbers in, a label per row out
    text.py      minilm-like models: texts in, embeddings or a zero-shot ranking out
    pooling.py   sentence embeddings from token states (needs torch; the rest does not)

Handlers, the client and CLI, batch scoring, load tests and every benchmark contestant
import these; the archive carries a copy beside ``handlers/``. No TorchServe import here.
"""

from __future__ import annotations

from types import ModuleType

from contracts import image, text, vector
from contracts.metadata import Kind

CONTRACTS: dict[Kind, ModuleType] = {"image": image, "vector": vector, "text": text}
