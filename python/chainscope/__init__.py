"""chainscope for Python: the event codec, the log server client (sync and
asyncio), the connector's control client and the archive reader.

Standard library only; see python/README.md."""
from .codec import (CodecError, Event, decode_event, decode_value, encode_event,  # noqa: F401
                    encode_value, event_to_json, filter_matches, filter_valid, to_json,
                    type_valid, value_to_json)
from . import archive  # noqa: F401  (needs python3-zstandard to read frames)
from .control import AsyncControl, Control, ControlError, Result, default_control_socket  # noqa: F401
from .logclient import AsyncClient, Client, LogServerError, default_socket  # noqa: F401

__version__ = "0.1.0"
