"""Datastores: content-addressed blobs (``base``, ``local``), value encodings (``codec``) and
the artifact layer tying them to named, typed artifacts (``artifacts``)."""
