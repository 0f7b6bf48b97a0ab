"""pytest fixtures for testing your own client against fake servers.

Enable them in your ``conftest.py``::

    pytest_plugins = ["jetsocket.testing.fixtures"]

Then use ``scripted_server`` and ``fault_proxy`` (factories that start a
:class:`jetsocket.testing.ScriptedServer` / :class:`jetsocket.testing.FaultProxy` and stop it
after the test), and ``cassette`` (replays a recorded session offline; records it with
``pytest --record-cassettes`` or ``JETSOCKET_RECORD=1``). See :mod:`jetsocket.testing` for
the servers themselves.
"""

# The public face of the private module: the same names, listed once (in _fixtures).
from jetsocket.testing._fixtures import *  # noqa: F403
from jetsocket.testing._fixtures import __all__ as __all__  # noqa: PLC0414 - re-exported
