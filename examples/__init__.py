"""Example rulebooks and datasets, installed as ``labelgate.examples``."""
