"""Quality engine: pure-numpy consensus (majority, weighted, Dawid-Skene), Wilson intervals and the
dynamic-overlap decision. No Django imports here: the ORM layer builds integer arrays and calls
these functions (see `aggregation.py`)."""
