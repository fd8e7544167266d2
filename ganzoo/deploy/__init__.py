"""Deployment: one loader (:mod:`~ganzoo.deploy.loading`), one exporter
(:mod:`~ganzoo.deploy.exporter`), the TensorFlow-free runtime (:mod:`~ganzoo.deploy.runtime`)
and the zoo registry (:mod:`~ganzoo.deploy.zoo`).

Nothing is imported here: ``import ganzoo.deploy.runtime`` must stay free of TensorFlow.
"""
