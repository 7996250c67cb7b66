"""A statistical reading of debtors' messages beside the rules: character n-grams
(tf-idf) and a multinomial logistic regression, trained with scikit-learn on the
labelled set and shipped as weights in JSON; read here in pure Python.

Why n-grams of letters: a phrasing the rules never saw still shares pieces of words
with the messages they were written from ("suspendan todo contacto" and "no me
contacten"), typos only break a few n-grams, and regional words learn their weight
from the examples. Training (`train`) needs scikit-learn (a test/bench dependency);
reading (`Model.probabilities`) needs nothing but the JSON file.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MODEL_FILE = Path(__file__).with_name("intent_model.json")
NGRAMS = (2, 5)  # character n-grams inside words, padded with a space at each end
C = 10.0  # inverse regularisation of the regression (chosen by cross-validation by split)
_SPACES = re.compile(r"\s\s+")


def char_ngrams(text: str, low: int = NGRAMS[0], high: int = NGRAMS[1]) -> list[str]:
    """The n-grams scikit-learn's analyzer="char_wb" makes of a text (the same list,
    so that the weights trained there read the same here)."""
    grams: list[str] = []
    for word in _SPACES.sub(" ", text).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(low, high + 1):
            offset = 0
            grams.append(padded[offset : offset + n])
            while offset + n < length:
                offset += 1
                grams.append(padded[offset : offset + n])
            if offset == 0:  # the word is shorter than n: counted once
                break
    return grams


@dataclass(frozen=True)
class Model:
    classes: tuple[str, ...]
    idf: dict[str, float]  # n-gram -> inverse document frequency
    weights: dict[str, tuple[float, ...]]  # n-gram -> one weight per class
    intercepts: tuple[float, ...]
    trained_on: str  # what it was trained on (splits and rows), for the record

    def probabilities(self, text: str) -> dict[str, float]:
        """Class -> probability for one normalised text (sums to 1)."""
        counts = Counter(g for g in char_ngrams(text) if g in self.idf)
        if not counts:
            return self._softmax(list(self.intercepts))
        # sublinear tf, times idf, then the vector scaled to unit length (tf-idf "l2").
        values = {g: (1.0 + math.log(c)) * self.idf[g] for g, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in values.values())) or 1.0
        logits = list(self.intercepts)
        for gram, value in values.items():
            row = self.weights.get(gram)
            if row is None:
                continue
            scaled = value / norm
            for index, weight in enumerate(row):
                logits[index] += weight * scaled
        return self._softmax(logits)

    def _softmax(self, logits: list[float]) -> dict[str, float]:
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        total = sum(exps)
        return {name: e / total for name, e in zip(self.classes, exps, strict=True)}

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": "cobrador-intent-model/1",
                "ngrams": list(NGRAMS),
                "trained_on": self.trained_on,
                "classes": list(self.classes),
                "intercepts": [round(x, 5) for x in self.intercepts],
                "idf": {g: round(v, 5) for g, v in sorted(self.idf.items())},
                "weights": {
                    g: [round(x, 5) for x in row] for g, row in sorted(self.weights.items())
                },
            },
            ensure_ascii=True,
            separators=(",", ":"),
        )


def from_json(text: str) -> Model:
    data = json.loads(text)
    if data.get("format") != "cobrador-intent-model/1" or tuple(data["ngrams"]) != NGRAMS:
        raise ValueError("not a cobrador intent model of this version: retrain it")
    return Model(
        classes=tuple(data["classes"]),
        idf={g: float(v) for g, v in data["idf"].items()},
        weights={g: tuple(float(x) for x in row) for g, row in data["weights"].items()},
        intercepts=tuple(float(x) for x in data["intercepts"]),
        trained_on=str(data["trained_on"]),
    )


@lru_cache(maxsize=1)
def shipped() -> Model:
    """The model shipped with the code (selfservice/intent_model.json)."""
    return from_json(MODEL_FILE.read_text(encoding="utf-8"))


def train(texts: Sequence[str], labels: Sequence[str], trained_on: str = "") -> Model:
    """Fit tf-idf + logistic regression with scikit-learn on normalised texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAMS, sublinear_tf=True,
                                 lowercase=False)  # fmt: skip
    matrix = vectorizer.fit_transform(list(texts))
    regression = LogisticRegression(C=C, max_iter=5000)
    regression.fit(matrix, list(labels))
    names = vectorizer.get_feature_names_out()
    idf = {str(g): float(v) for g, v in zip(names, vectorizer.idf_, strict=True)}
    coef = regression.coef_.T  # n-grams x classes
    weights = {
        str(g): tuple(float(x) for x in coef[i])
        for i, g in enumerate(names)
        if max(abs(float(x)) for x in coef[i]) >= 1e-4
    }
    return Model(
        classes=tuple(str(c) for c in regression.classes_),
        idf=idf,
        weights=weights,
        intercepts=tuple(float(x) for x in regression.intercept_),
        trained_on=trained_on,
    )
