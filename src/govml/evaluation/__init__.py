"""Evaluations: a model version (or outside predictions) checked against a policy.

:class:`Evaluation` is a stored result. :mod:`govml.evaluation.inputs` gathers what the
checks read (outcomes, predictions, scores, the task and the positive label);
:mod:`govml.evaluation.runners` holds one runner per policy section, built on the checks of
:mod:`govml.evaluation.gates` and :mod:`govml.evaluation.model_checks`. The service that
orchestrates them and stores the result is
:class:`govml.services.evaluation.EvaluationService` (``client.evaluate``, ``govml evaluate``).
"""

from govml.evaluation.document import OUTCOMES, SCHEMA, Evaluation, Gate, Outcome

__all__ = ["OUTCOMES", "SCHEMA", "Evaluation", "Gate", "Outcome"]
