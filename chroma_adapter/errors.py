"""The one error type the runtime raises for bad input.

Every message names the file (or Hub id) and says what is wrong and why, on one line, so the CLI
can print it as it is.
"""


class AdapterError(ValueError):
    """An adapter, its config or its weights cannot be used; the message says which and why."""


class BaseModelMismatchError(AdapterError):
    """The embedding function's base model is not the one the adapter was trained on."""
