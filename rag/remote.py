"""Servers on other boxes: a Chroma index server (``chroma run``) and an OpenAI-compatible model server.

Both are plain HTTP. When one stops (killed, restarted, its box rebooted, the network down) the
client libraries raise their own transport errors: httpx's ``ConnectError``, openai's
``APIConnectionError``, or a ``RemoteProtocolError`` in the middle of a streamed answer. This module
turns them into :class:`~rag.errors.IndexServerError` and :class:`~rag.errors.ModelServerError`
with the server's address and the fix, so the CLI prints one line and the app one ``st.error``.

Nothing is left broken by a failure: both clients keep a connection pool that drops dead
connections and opens new ones, so the first question after the server is back is answered
without restarting the app (tests/test_scaleout.py kills and restarts both servers).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import httpx

from rag.errors import IndexServerError

if TYPE_CHECKING:  # pragma: no cover
    from chromadb.api import ClientAPI
    from chromadb.config import Settings as ChromaSettings


def _http_modules() -> tuple[Any, ...]:
    """httpx (chromadb's client) and httpx2 (openai's, from openai 3.x): the same exception names in each."""
    try:
        import httpx2
    except ImportError:  # pragma: no cover - an older openai on plain httpx
        return (httpx,)
    return (httpx, httpx2)


def _errors(*names: str) -> tuple[type[BaseException], ...]:
    return tuple(getattr(module, name) for module in _http_modules() for name in names)


def transport_reason(exc: BaseException) -> str:
    """What went wrong on the wire, in words: 'connection refused', 'timed out', ...

    openai wraps the HTTP library's error in ``APIConnectionError`` (the original is its ``__cause__``).
    """
    cause: BaseException = exc
    while not isinstance(cause, _errors("HTTPError")) and cause.__cause__ is not None:
        cause = cause.__cause__
    if isinstance(cause, _errors("TimeoutException")):
        return "timed out"
    if isinstance(cause, _errors("ConnectError")):  # "[Errno 111] Connection refused", "[Errno -2] Name or service …"
        return re.sub(r"^\[Errno -?\d+\]\s*", "", str(cause)).lower() or "cannot connect"
    if isinstance(cause, _errors("RemoteProtocolError", "ReadError", "WriteError")):
        return "the connection was closed in the middle of a request"
    return f"{type(cause).__name__}: {cause}"


def index_server_message(where: str, exc: BaseException) -> str:
    port = where.rsplit(":", 1)[-1]
    return (f"The catalog index server at {where} is not answering ({transport_reason(exc)}). Start it on its box with "
            f"`chroma run --path INDEX_FOLDER --host 0.0.0.0 --port {port}` (the folder that holds the index), "
            "or fix CATALOG_CHROMA_HOST / CATALOG_CHROMA_PORT; then try again.")


def connect_index_server(host: str, port: int, settings: ChromaSettings) -> ClientAPI:
    """``chromadb.HttpClient`` whose transport failures raise :class:`IndexServerError`.

    Every request of chromadb's HTTP client, the client's own and its collections', goes through
    one method of one object (``FastAPI._make_request`` on ``client._server``); that method is
    wrapped on this client's instance. chromadb 1.5 offers no public hook: a subclass cannot be
    configured (``chroma_api_impl`` accepts only chromadb's own classes), and its constructor turns
    a failed first request into a bare ``ValueError``, so that one is recognised by its cause.
    """
    import chromadb

    where = f"{host}:{port}"
    try:
        client = chromadb.HttpClient(host=host, port=port, settings=settings)
    except ValueError as exc:  # "Could not connect to a Chroma server. Are you sure it is running?"
        if isinstance(exc.__context__, httpx.TransportError):
            raise IndexServerError(index_server_message(where, exc.__context__)) from exc
        raise
    server = client._server
    request = server._make_request

    def make_request(method: str, path: str, **kwargs: Any) -> Any:
        try:
            return request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise IndexServerError(index_server_message(where, exc)) from exc

    server._make_request = make_request
    return client
