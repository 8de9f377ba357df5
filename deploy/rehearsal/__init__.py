"""The Kubernetes manifests rehearsed with the image on one machine (no cluster runs here).

    python -m deploy.rehearsal [--short] [--out build/deploy/rehearsal]

``pod``: the rendered Deployment's pod run with ``buildah run`` as the kubelet would run it
(env, user, read-only root, emptyDirs, the Secret, capabilities, memory limit) and probed at
the manifest's periods and thresholds. ``stack``: what a cluster puts around a pod (a load
balancer following readiness, Prometheus scraping like the PodMonitor, Locust as clients).
``__main__``: the phases and the report (docs/kubernetes.md, "Rehearsal").
"""
