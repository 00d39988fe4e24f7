"""One value holding every setting of a pipeline, so tuned settings travel as a dict."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ._config import Config
from .breaker import BreakerConfig, CircuitBreaker
from .budget import BudgetConfig
from .classify import Classifier, ClassifierConfig
from .events import Listener
from .pipeline import Pipeline
from .retry import RetryConfig
from .rng import RandomSource

__all__ = ["PipelineConfig"]


@dataclass(frozen=True, slots=True)
class PipelineConfig(Config):
    """Retry, breaker, budget and classifier settings of one caller→target edge.

    ``PipelineConfig.from_dict(tomllib.load(f))`` in production builds the very
    pipeline a notebook tuned: ``to_dict()`` there, ``from_dict()`` here.
    """

    retry: RetryConfig = field(default_factory=RetryConfig)
    breaker: BreakerConfig | None = None
    budget: BudgetConfig | None = None
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)

    def build(
        self, *, name: str = "default", rng: RandomSource | None = None, listeners: Iterable[Listener] = ()
    ) -> Pipeline:
        """A new pipeline with its own breaker and budget; ``rng`` draws every jitter."""
        listeners = tuple(listeners)
        breaker = (
            None
            if self.breaker is None
            else CircuitBreaker(self.breaker, name=name, rng=rng, listeners=listeners)
        )
        budget = None if self.budget is None else self.budget.build(rng, name=name)
        return Pipeline(
            self.retry,
            breaker=breaker,
            budget=budget,
            classifier=Classifier(self.classifier),
            rng=rng,
            listeners=listeners,
            name=name,
        )
