"""Config objects (class level and in steps) and tag mutation from inside parallel steps."""

from flowlib import Config, FlowSpec, Run, current, retry, step


class ConfigTagsFlow(FlowSpec):
    cfg = Config("cfg", default="config.json")
    RETRIES = cfg.retries  # read at class level, while the class body runs

    @retry(times=cfg.retries, minutes_between_retries=0)
    @step
    def start(self):
        self.lr = self.cfg.model.lr
        self.shards = list(range(4))
        self.next(self.tagger, foreach="shards")

    @step
    def tagger(self):
        run = Run(f"{current.flow_name}/{current.run_id}")
        mine = f"shard-{self.input}"
        run.add_tag(mine)
        self.saw_own = mine in run.user_tags
        self.lr_here = self.cfg["model"]["lr"]
        print(f"tagged {mine}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.all_saw_own = all(i.saw_own for i in inputs)
        self.lrs = sorted({i.lr_here for i in inputs})
        run = Run(f"{current.flow_name}/{current.run_id}")
        run.remove_tag("shard-3")
        run.replace_tag("shard-0", "shard-zero")
        self.next(self.end)

    @step
    def end(self):
        self.lr_end = self.cfg.model.lr


if __name__ == "__main__":
    ConfigTagsFlow()
