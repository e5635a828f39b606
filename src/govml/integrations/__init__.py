"""Bridges from govml to the tools a team already runs.

Each integration lives in its own module and imports its third-party library only when
used: ``observability`` (Grafana dashboard and Prometheus alerting rules shipped with the
package), ``mlflow_bridge`` (import from and mirror aliases to an MLflow tracking server,
extra ``govml[mlflow]``), ``openlineage`` (run events for registration, evaluation and
promotion) and ``notify`` (Slack and Microsoft Teams payloads).
"""
