"""Rewrite passes that make convolutions cheaper (imported as ``onnxcost.passes``)."""
