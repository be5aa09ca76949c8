"""mlbench: evaluation harness for multilingual dense and lexical retrieval.

The Python API is the product; the ``mlbench`` command is a thin layer over it.
"""

__version__ = "0.1.0"

from mlbench.errors import MlbenchError  # noqa: E402

__all__ = ["MlbenchError", "__version__"]
