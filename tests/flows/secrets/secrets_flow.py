"""Reads secrets from @secrets (start) and from --with secrets:... (end, given by the test).

The tasks never store or return a secret value: only a digest (to prove what they read) and
variable names. start prints its password, which masking must hide in every log.
"""

import hashlib
import os
import sys

from flowlib import FlowSpec, environment, secrets, step


def digest(*names: str) -> str:
    return hashlib.sha256("|".join(os.environ[n] for n in names).encode()).hexdigest()


class SecretsFlow(FlowSpec):
    @environment(vars={"MODEL_HUB_URL": "https://hub.example.com", "WORKERS": 4})
    @secrets(sources=["flowlib/sectest/warehouse"])
    @step
    def start(self):
        self.start_digest = digest("DB_USER", "DB_PASSWORD")
        self.port = os.environ["DB_PORT"]  # 5432 in the JSON: not secret, kept as JSON text
        self.plain = (os.environ["MODEL_HUB_URL"], os.environ["WORKERS"])
        self.start_sees_token = "HUB_TOKEN" in os.environ
        print("connecting with password", os.environ["DB_PASSWORD"])
        self.next(self.end)

    @step
    def end(self):
        self.end_digest = digest("HUB_TOKEN", "DB_URL")
        self.end_sees_password = "DB_PASSWORD" in os.environ
        print(f"token={os.environ['HUB_TOKEN']}", file=sys.stderr)


if __name__ == "__main__":
    SecretsFlow()
