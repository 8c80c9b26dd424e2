"""Running steps off this machine: code packages (``package``), the container entry point
(``bootstrap``) and the compute backends (``batch``, ``kubernetes``)."""
