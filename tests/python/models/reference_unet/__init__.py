"""Tests of models/reference_unet."""
