"""Machine-learning assets of SME Pulse (training, evaluation, registry, scoring, monitoring).

Trained from silver, served through gold; populated by the ML work that builds on the AR slice.
"""
