"""Resilience checks against a real TorchServe: chaos (``kill -9`` under load) and soak.

``python -m resilience.chaos`` and ``python -m resilience.soak`` (``make chaos``, ``make soak``)
each start their own TorchServe with the project's launcher on free loopback ports, drive it
with the project's client, print a report, write it as JSON and exit non-zero when a goal is
missed. ``serving`` knows the server's processes, ``load`` drives requests, ``stats`` sums
them up, ``death`` finds out what a request gets when its worker is killed.
"""
