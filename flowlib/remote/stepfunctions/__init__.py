"""Production deployments on AWS Step Functions (``python flow.py step-functions ...``).

* ``@schedule`` and ``@project`` (flow class decorators, no AWS import) are in
  ``flowlib/flow_decorators.py``, importable with ``import flowlib``.
* ``naming``: state machine, schedule and job definition names from flow, project branch.
* ``compiler``: the flow graph as Amazon States Language, as data (sorted-key JSON).
* ``entry``: the container entry of every state: registers the task in the metadata store
  (inputs, foreach frames, resume clones), runs the standalone step command, enforces
  ``@timeout``, and writes the small control record the state machine branches on.
* ``deploy``: create/update/delete of the state machine, its job definitions and schedule,
  with a deployment record so ``delete`` removes exactly what ``create`` made.
* ``@trigger`` and ``@trigger_on_finish`` (no AWS import) are in ``flowlib/trigger_decorators.py``.
* ``triggers``: their EventBridge rules, the at-most-once-per-event guard state, what a
  triggered run records (tags, parameters from the event).
* ``run_jobs``: a run's still-active Batch jobs, found by the run tags the compiler gives
  every job; ``terminate``: ``step-functions terminate`` (StopExecution, then those jobs) and
  the jobs an ended execution left running, stopped before ``resume``.
* ``cli``: the click group (registered like the batch and kubernetes groups).
"""
