"""Embeddings from an OpenAI-compatible ``/embeddings`` endpoint. Its own module so that the offline
embedders (:mod:`.embeddings`) never import the ``openai`` package (about 0.4 s at start-up)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import numpy as np
import openai

from graphrag_lite.config.settings import EmbeddingSettings, LLMSettings
from graphrag_lite.errors import EmbeddingError
from graphrag_lite.models.base import Usage, UsageMeter
from graphrag_lite.models.openai_chat import (
    BadReply,
    LoopState,
    OpenAIEndpoint,
    bad_reply_retrying,
    public_url,
    retry_bad_replies,
)
from graphrag_lite.models.tokens import get_tokenizer
from graphrag_lite.models.windows import Windows

logger = logging.getLogger(__name__)

KNOWN_DIMS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072, "text-embedding-ada-002": 1536}


class OpenAIEmbedder(OpenAIEndpoint):
    """Embeddings from an OpenAI-compatible ``/embeddings`` endpoint: batched, bounded, retried by the client.

    ``api_base``/``api_key`` fall back to the llm section when the embeddings section leaves them unset.
    ``dim`` is known up front for OpenAI's models, else learnt from the first reply (or pass ``dim``).
    Texts longer than ``max_input_tokens`` are windowed and pooled, never truncated.
    """

    kind, section = "Embedding", "embeddings"

    def __init__(
        self,
        settings: EmbeddingSettings,
        llm: LLMSettings | None = None,
        meter: UsageMeter | None = None,
        *,
        dim: int | None = None,
        max_input_tokens: int = 8000,
        encoding: str = "cl100k_base",
    ) -> None:
        llm = llm or LLMSettings.model_validate({})
        super().__init__(
            settings.model,
            llm,
            api_key=settings.api_key or llm.api_key,
            api_base=settings.api_base or llm.api_base,
            api_version=llm.api_version if settings.api_base is None else None,
            concurrency=settings.concurrency,
        )
        self.settings = settings
        self.meter = meter if meter is not None else UsageMeter()
        self.dim = dim or KNOWN_DIMS.get(settings.model, 0)
        self.max_input_tokens = max_input_tokens
        self.encoding = encoding

    def _windows(self, text: str) -> list[tuple[str, int]]:
        tokenizer = get_tokenizer(self.encoding)
        ids = tokenizer.encode(text)
        if len(ids) <= self.max_input_tokens:
            return [(text or " ", max(len(ids), 1))]  # some servers reject empty strings
        step = self.max_input_tokens
        return [
            (tokenizer.decode(ids[i : i + step]), len(ids[i : i + step])) for i in range(0, len(ids), step)
        ]

    async def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        windows = Windows.of(texts, self._windows)
        size = self.settings.batch_size
        batches = [windows.texts[i : i + size] for i in range(0, len(windows.texts), size)]
        vectors = np.concatenate(await asyncio.gather(*(self._embed_batch(b) for b in batches)), axis=0)
        self.dim = int(vectors.shape[1])
        return windows.pool(vectors, len(texts))

    async def _request(self, state: LoopState, batch: list[str], usage: Usage) -> np.ndarray:
        """One request; a 200 reply that is malformed or short of vectors raises :class:`BadReply`."""
        raw = await state.client.embeddings.with_raw_response.create(
            model=self.model, input=batch, encoding_format="float"
        )
        usage.retries += raw.retries_taken
        try:
            reply = raw.parse()
        except (ValueError, openai.APIResponseValidationError):
            raise BadReply("a malformed (non-JSON) reply") from None
        if len(reply.data) != len(batch):
            raise BadReply(f"{len(reply.data)} vectors for {len(batch)} inputs")
        usage.prompt_tokens += reply.usage.prompt_tokens if reply.usage else 0
        rows = sorted(reply.data, key=lambda d: d.index)
        return np.asarray([row.embedding for row in rows], dtype=np.float32)

    async def _embed_batch(self, batch: list[str]) -> np.ndarray:
        state = self._state()
        usage = Usage(llm_calls=1)

        def retried(_problem: str, _attempt: int) -> None:
            usage.retries += 1

        try:
            async with state.semaphore:
                return await retry_bad_replies(
                    lambda: self._request(state, batch, usage),
                    bad_reply_retrying(self.max_retries, 0.5, retried),
                )
        except BadReply as exc:
            usage.failures = 1
            raise EmbeddingError(
                f"Embedding call to model '{self.model}' failed: {public_url(self.api_base)} returned {exc} "
                f"{self.max_retries + 1} time(s). Check embeddings.model names an embedding model."
            ) from None
        except openai.OpenAIError as exc:
            usage.failures = 1
            raise EmbeddingError(self._failure(exc, usage.retries)) from None
        finally:
            self.meter.record(usage)


# -- cache --------------------------------------------------------------------------------------------------
