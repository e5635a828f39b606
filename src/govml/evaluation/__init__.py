"""Evaluations: a model version (or outside predictions) checked against a policy.

:class:`Evaluation` is a stored result; :mod:`govml.evaluation.gates` and
:mod:`govml.evaluation.model_checks` turn a policy's sections into checks; the service
that runs and stores them is :class:`govml.services.evaluation.EvaluationService`
(``client.evaluate``, ``govml evaluate``).
"""

from govml.evaluation.document import OUTCOMES, SCHEMA, Evaluation, Gate, Outcome

__all__ = ["OUTCOMES", "SCHEMA", "Evaluation", "Gate", "Outcome"]
