"""The one exception type for user mistakes (bad flags, unreachable URLs, busy ports).

The CLI prints its message as one line and exits with code 2; nothing else
(no traceback) is shown. Raise it anywhere below the CLI with a message that
names the problem and, where possible, the fix.
"""


class UserError(Exception):
    """A mistake in what the user asked for; the message is shown as is."""
