"""The node agent: keeps one Docker engine equal to the bindings placed on its node."""
