"""The one error tree of collbot.

    CollbotError                 anything the CLI reports as one line and a non-zero exit
    ├── ConfigError              a settings, personas or script file is wrong (carries file:line)
    ├── InputError               a value from outside (phone number, CSV cell) is unusable
    │   └── PhoneNumberError     not a dialable E.164 number in an allowed country
    ├── SandboxError             the sandboxed Asterisk cannot be built, started or stopped
    ├── TelephonyError           Asterisk misbehaves or cannot be reached
    │   ├── AmiError             AMI login, action or connection failure
    │   │   └── NotDialled       an Originate Asterisk never took (link down, refused, unsafe value)
    │   └── AgiError             a FastAGI peer sent something we cannot use
    ├── SpeechError              a speech model or synthesizer is missing or broken
    └── StoreError               the database cannot be opened or written
        └── StoreUnavailable     the database server is unreachable for now (retry once it is back)

A hangup is not an error: it is `bot.telephony.channel.Hangup`, caught at the session boundary.
Third-party exceptions are translated where they enter (``raise ... from exc``).
"""

from __future__ import annotations


class CollbotError(Exception):
    """Base of every error the CLI reports as one clear line."""


class ConfigError(CollbotError):
    """A configuration file is invalid; the message names file:line and the key."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")


class InputError(CollbotError):
    """A value that came from outside the program cannot be used."""


class PhoneNumberError(InputError):
    """A phone number is not a valid, allowed E.164 number."""


class SandboxError(CollbotError):
    """The sandboxed Asterisk could not be built, started, or stopped."""


class TelephonyError(CollbotError):
    """Asterisk could not be reached or answered in a way we cannot use."""


class AmiError(TelephonyError):
    """An AMI login, action or connection failed."""


class NotDialled(AmiError):
    """Asterisk never took this Originate: nobody was called, the claim can be released."""


class AgiError(TelephonyError):
    """A FastAGI peer sent something we cannot use."""


class SpeechError(CollbotError):
    """A speech model or the synthesizer is missing or broken."""


class StoreError(CollbotError):
    """The database cannot be opened or written."""


class StoreUnavailable(StoreError):
    """The database server cannot be reached for now. The failed transaction was rolled back
    (unless the link broke during its COMMIT): wait (``Store.wait_available``), then try again."""
