"""Status by watch, not by polling: one watch on Jobs and one on Pods per namespace and launcher.

Each watch runs in a daemon thread and hands every event's raw object (a dict; no model
deserialisation, which costs more than the HTTP read at a 1,000-way foreach) to a callback.
The selector names flowlib's labels for this flow and store; objects are filtered on the
client side as well, since some API servers (and kmock) ignore label selectors.

A watch that ends (server timeout, dropped connection, 410 Gone) is reopened after a fresh
list, whose items are dispatched too: nothing that changed while disconnected is missed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

WATCH_SECONDS = 300  # server-side watch timeout: a real API server ends the stream after this
RETRY_PAUSE = 1.0

Callback = Callable[[str, str, dict[str, Any]], None]  # (kind "Job"/"Pod", event type, object)


class NamespaceWatch:
    """Watches Jobs and Pods of one namespace carrying ``labels``; calls ``callback``."""

    def __init__(
        self,
        api_client: Any,
        namespace: str,
        labels: dict[str, str],
        callback: Callback,
    ) -> None:
        from kubernetes import client

        self.namespace = namespace
        self.labels = labels
        self.selector = ",".join(f"{k}={v}" for k, v in labels.items())
        self.callback = callback
        self._stopped = threading.Event()
        self._watches: list[Any] = []
        self._lock = threading.Lock()
        batch = client.BatchV1Api(api_client)
        core = client.CoreV1Api(api_client)
        self._sources = {
            "Job": batch.list_namespaced_job,
            "Pod": core.list_namespaced_pod,
        }
        self._threads = [
            threading.Thread(
                target=self._run, args=(kind,), name=f"flowlib-k8s-watch-{kind}", daemon=True
            )
            for kind in self._sources
        ]
        self.ready = {kind: threading.Event() for kind in self._sources}

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stopped.set()
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.stop()
            response = getattr(watch, "_resp", None)
            if response is not None:
                try:
                    response.close()
                except Exception:  # noqa: BLE001 - closing a dead stream during shutdown
                    pass

    def _matches(self, obj: dict[str, Any]) -> bool:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return all(labels.get(k) == v for k, v in self.labels.items())

    def _dispatch(self, kind: str, event_type: str, obj: dict[str, Any]) -> None:
        if not self._matches(obj):
            return
        try:
            self.callback(kind, event_type, obj)
        except Exception:  # noqa: BLE001 - a bad event must not end the watch
            log.exception("flowlib: error handling a Kubernetes %s event", kind)

    def _run(self, kind: str) -> None:
        from kubernetes import watch

        source = self._sources[kind]
        while not self._stopped.is_set():
            try:
                listing = source(self.namespace, label_selector=self.selector,
                                 _preload_content=False)
                import json

                body = json.loads(listing.data or b"{}")
                for item in body.get("items") or []:
                    self._dispatch(kind, "ADDED", item)
                version = (body.get("metadata") or {}).get("resourceVersion")
                self.ready[kind].set()
                w = watch.Watch()
                with self._lock:
                    self._watches.append(w)
                kwargs: dict[str, Any] = {
                    "label_selector": self.selector,
                    "timeout_seconds": WATCH_SECONDS,
                    "deserialize": False,
                }
                if version and version.isdigit():
                    kwargs["resource_version"] = version
                try:
                    for event in w.stream(source, self.namespace, **kwargs):
                        if self._stopped.is_set():
                            break
                        obj = event.get("object") or event.get("raw_object") or {}
                        if event.get("type") == "ERROR":
                            break
                        self._dispatch(kind, event.get("type", ""), obj)
                finally:
                    with self._lock:
                        self._watches.remove(w)
            except Exception as exc:  # noqa: BLE001 - reconnect on any transport/API error
                if self._stopped.is_set():
                    return
                log.debug("flowlib: %s watch in %s ended (%s); reconnecting", kind,
                          self.namespace, exc)
                self.ready[kind].set()
                time.sleep(RETRY_PAUSE)
