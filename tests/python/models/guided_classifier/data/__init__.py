"""Tests of models/guided_classifier/data."""
