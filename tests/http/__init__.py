"""The HTTP API in-process (FastAPI's TestClient over the real app, real stores and real
tokens): every contract through HTTP, without a server process. Tests that start a real
server are in tests/e2e/."""
