"""@kubernetes and @resources on one step, a plain step on this machine: the Job manifest
carries the step's resources, placement and identity."""

from flowlib import FlowSpec, kubernetes, resources, step, timeout


class K8sResourcesFlow(FlowSpec):
    @step
    def start(self):
        self.local = True
        self.next(self.train)

    @kubernetes(cpu=0.5, memory=512, gpu=1, disk=2048, shared_memory=256, namespace="ml",
                node_selector={"pool": "gpu"},
                tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}])
    @resources(cpu=2, memory=1024)
    @timeout(minutes=5)
    @step
    def train(self):
        self.trained = self.local
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    K8sResourcesFlow()
