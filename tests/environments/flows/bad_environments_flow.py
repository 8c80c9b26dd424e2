"""Every way an environment can be wrong, one per step (ENV_CASE picks the steps' packages)."""

from flowlib import FlowSpec, conda, pypi, step


class BadEnvironmentsFlow(FlowSpec):
    @pypi(packages={"no-such-package-flowlib-test": "1.0"})
    @step
    def start(self):
        self.next(self.pinned)

    @pypi(packages={"six": "99.0"})
    @step
    def pinned(self):
        self.next(self.conda_only)

    @conda(packages={"conda-only-flowlib-test": "11.8"})
    @step
    def conda_only(self):
        self.next(self.end)

    @pypi(python="3.7", packages={"six": ""})
    @step
    def end(self):
        pass


if __name__ == "__main__":
    BadEnvironmentsFlow()
