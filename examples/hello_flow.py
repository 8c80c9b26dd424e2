"""A small flow that shows the common features: parameters, a static branch, a foreach and
joins. Run it with: python examples/hello_flow.py run --alpha 0.5"""

from flowlib import FlowSpec, Parameter, current, step


class HelloFlow(FlowSpec):
    """Score a few models with a parameter sweep, then pick the best one."""

    alpha = Parameter("alpha", default=0.1, help="Learning rate of every model.")

    @step
    def start(self):
        """Prepare the data and the list of models to sweep over."""
        self.data = list(range(10))
        self.models = ["linear", "tree", "forest"]
        print(f"run {current.run_id}: sweeping {len(self.models)} models, alpha={self.alpha}")
        self.next(self.train, foreach="models")

    @step
    def train(self):
        """Train one model (one task per model)."""
        self.model = self.input
        self.score = sum(self.data) * self.alpha * (1 + len(self.model))
        print(f"{self.model}: score {self.score:.2f}")
        self.next(self.pick)

    @step
    def pick(self, inputs):
        """Join the sweep: keep the best model."""
        best = max(inputs, key=lambda i: i.score)
        self.best_model, self.best_score = best.model, best.score
        self.merge_artifacts(inputs, include=["data"])
        self.next(self.review)

    @step
    def review(self):
        """Check the winner two ways in parallel."""
        self.next(self.report, self.audit)

    @step
    def report(self):
        self.summary = f"best model: {self.best_model} ({self.best_score:.2f})"
        self.next(self.join)

    @step
    def audit(self):
        self.checked = len(self.data)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.summary = inputs.report.summary
        self.checked = inputs.audit.checked
        self.next(self.end)

    @step
    def end(self):
        print(self.summary)


if __name__ == "__main__":
    HelloFlow()
