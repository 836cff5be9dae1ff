"""What every provider adapter does: speak OpenAI's chat format to the proxy, its own upstream.

The proxy's requests and answers are OpenAI's chat-completions and embeddings JSON, whatever
the provider. An adapter translates a request for its kind of upstream, sends it with the
worker's shared HTTP client, and translates the answer, the stream, the usage and the errors
back. It raises UpstreamError for any failure (the engine decides on retries and fallback);
a stream raises it before its first chunk when it can, so the engine may still fall back.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reported: bool = False  # the provider said so (else counted or estimated by the proxy)

    @property
    def total_tokens(self):
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    """A whole answer: OpenAI's `chat.completion` object (its `usage` filled in) and the usage."""

    payload: dict
    usage: Usage


class Adapter(Protocol):
    kind: str
    supports_embeddings: bool

    async def complete(self, http, deployment, body: dict) -> Completion:
        """Send a non-streaming chat request (OpenAI's body) to `deployment`; its answer."""

    def stream(self, http, deployment, body: dict, usage: Usage) -> AsyncIterator[dict]:
        """Yield OpenAI `chat.completion.chunk` dicts as the upstream streams.

        `usage` is filled in as the upstream reports it (the last chunk's usage, Anthropic's
        message_delta, Ollama's final line); the caller owns it, so a stream cut short still
        leaves what was reported. Usage chunks are not yielded: the proxy adds its own.
        """

    async def embed(self, http, deployment, body: dict) -> Completion:
        """Send an embeddings request (OpenAI's body); OpenAI's embeddings list and usage."""
