"""Building the composition root does no I/O: a command builds only the parts it uses,
so a store that is not there yet, or away, fails the command that needs it, not the
others' start."""

from __future__ import annotations

from gridflow.container import Container
from gridflow.settings import Settings


def test_a_container_for_an_unreachable_store_is_built_and_closed_without_connecting():
    c = Container(Settings(database_url="postgresql://nobody@127.0.0.1:9/nowhere"))
    assert "db" not in c.__dict__ and "service" not in c.__dict__
    c.close()  # nothing was opened, nothing to close
