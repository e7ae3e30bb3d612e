"""The actor runtime: pykka actors that talk only through the log (not built yet)."""

from loguru import logger

__all__: list[str] = []

# A library adds no sink and stays quiet until the application opts in: see README "Logging".
logger.disable("actors")
