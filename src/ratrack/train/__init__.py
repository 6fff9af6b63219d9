"""Training: tracker training, glimpse-misalignment pretraining, losses, data parallelism."""
