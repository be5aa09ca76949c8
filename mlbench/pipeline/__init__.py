"""The run paths: ``mlbench run`` as a function (:mod:`~mlbench.pipeline.run`: plan, load, encode,
retrieve, score, write), runs made elsewhere scored against a task (:mod:`~mlbench.pipeline.evaluate`,
``mlbench evaluate``) and kept rankings fused (:mod:`~mlbench.pipeline.fuse`, ``mlbench fuse``).
Each returns :class:`~mlbench.pipeline.output.RunOutput`."""

from mlbench.pipeline.output import RunOutput
from mlbench.pipeline.run import Plan, RunConfig, TaskPlan, plan, run, with_checkpoint_prompts

__all__ = ["Plan", "RunConfig", "RunOutput", "TaskPlan", "plan", "run", "with_checkpoint_prompts"]
