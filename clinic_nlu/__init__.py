"""Custom Rasa NLU components of the clinic assistant (spaCy alias recognition, classifier).

Rasa imports this package when it loads a model that uses its components, which is also
where the measured latency fix in ``rasa_speedups`` is installed.
"""

from clinic_nlu import rasa_speedups

rasa_speedups.apply()
