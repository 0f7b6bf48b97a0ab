"""pytest fixtures for testing your own client against fake servers.

Enable them in your ``conftest.py``::

    pytest_plugins = ["jetsocket.testing.fixtures"]

Then use ``scripted_server`` and ``fault_proxy`` (factories that start a
:class:`jetsocket.testing.ScriptedServer` / :class:`jetsocket.testing.FaultProxy` and stop it
after the test). See :mod:`jetsocket.testing` for the servers themselves.
"""

from jetsocket.testing._fixtures import (
    FaultProxyFactory,
    ScriptedServerFactory,
    fault_proxy,
    scripted_server,
)

__all__ = ["FaultProxyFactory", "ScriptedServerFactory", "fault_proxy", "scripted_server"]
