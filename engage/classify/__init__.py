"""Theme classifier: the scikit-learn pipeline, its seed corpus, and the model registry."""
