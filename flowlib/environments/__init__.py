"""Per-step Python environments: ``@pypi``, ``@pypi_base``, ``@conda``, ``@conda_base``.

* ``decorators``: the decorators (values only; nothing is resolved when a flow file loads).
* ``spec``: a step's effective environment (packages + python + platform) and its hash.
* ``uv``: the one place that runs uv (resolve into a lock, build a virtualenv from it).
* ``locks``: one lock per distinct environment, kept in the datastore, found by its inputs' hash.
* ``venvs``: the cache of built virtualenvs, built once and safely under concurrent runs.
* ``prepare``: what a run does before any task starts (resolve, build, fail early and clearly).
* ``record``: what a task records about the environment it ran in (``Task.environment``).
* ``remote``: bundles for containers; ``host_cache``: where a machine's jobs unpack them, kept
  while used and pruned when not (standard library only: stage 0 runs it).

A flow with no environment decorator never reaches ``uv``: ``prepare`` returns at once.
"""
