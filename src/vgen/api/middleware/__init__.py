"""Pure ASGI middlewares of the API, one concern each (starlette's `middleware/*.py` style)."""
