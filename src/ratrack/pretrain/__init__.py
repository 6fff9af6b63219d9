"""Glimpse-misalignment pretraining of the tracker's conv net."""
