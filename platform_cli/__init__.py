"""The ``platform`` command: provision and operate flowlib environments on AWS."""
