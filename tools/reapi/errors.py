"""The engine scripts' one error type: a failure shown to the user as a message, not a traceback."""


class EngineError(Exception):
    pass
