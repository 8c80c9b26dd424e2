"""Steps as Kubernetes Jobs: ``launcher`` (the runtime's launcher for ``@kubernetes`` steps),
``jobs`` (the Job manifest), ``auth`` (EKS token or kubeconfig), ``watch`` (status by watch),
``entry`` (the container's command) and ``cli`` (``kubernetes list`` / ``kill``).

Only ``jobs`` and ``entry`` import nothing beyond the standard library and flowlib; the rest
need the ``kubernetes`` package (``pip install 'flowlib-platform[kubernetes]'``).
"""
