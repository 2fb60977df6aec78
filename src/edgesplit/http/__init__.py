"""The HTTP layer every node shares: the FastAPI app (OpenAI routes, auth, errors to HTTP, SSE)
and the protocol a node implements for it."""
