"""The lab: what people and CI run around the product, never imported by it.

The demo (``citypulse demo``) and its HTML report, the soak, every benchmark
(``citypulse bench ...``) and evaluation (``citypulse eval ...``), the bulk seeder behind
the dashboard benchmark, the embedded PostgreSQL and broker they start, and a bounded
MQTT publisher.  The top layer: it may import every package; nothing imports it.
"""
