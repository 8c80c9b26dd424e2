"""The environment a task runs with: ``@environment`` variables and ``@secrets`` sources.

Layout (one job per module):

* ``sources``: what a source name means (Secrets Manager name or ARN, ``ssm:`` Parameter
  Store name) and the naming rule that turns a secret's value into environment variables;
* ``decorators``: ``@secrets`` and ``@environment`` (registered in ``flowlib.decorators``);
* ``fetch``: reading a source with the task's own credentials, AWS errors as one sentence;
* ``masking``: hiding secret values in what the task prints (best effort);
* ``apply``: the task-start step that the executor calls before user code runs.

Only source *names* ever leave the task process: they travel in the task's spec (its command
line), like the step name. Values are read inside the task, at task start.
"""
