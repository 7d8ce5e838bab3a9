"""Experiment records: the model, reading and writing experiments/<id>.json."""
