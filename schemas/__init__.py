"""Shoal's API: the typed models, the task state machine and manifest loading.

Modules, one idea each (import from them directly):

* ``quantity``: ``parse_cpu``, ``parse_bytes``, ``format_cpu``, ``format_bytes``;
* ``states``: ``TaskState`` and the allowed transitions;
* ``base``, ``fields``: the two kinds of model and the checked field types;
* ``meta``, ``spec``, ``task``: ``ObjectMeta``, ``TaskSpec`` and its parts, ``Task``,
  ``TaskStatus``, ``same_desired``;
* ``events``, ``node``, ``binding``: ``TaskEvent``; ``NodeInfo``, ``NodeMetrics``,
  ``NodeStatus``, ``Node``; ``Binding``, ``TaskReport``;
* ``loader`` (with ``problems`` and ``yamlpos``): ``load_paths`` and precise errors;
* ``export``: ``python -m schemas.export`` writes ``schemas/json/task.json``;
* ``selector``: label selectors (``-l app=web``).
"""
