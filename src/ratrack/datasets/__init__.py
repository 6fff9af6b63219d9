"""Data loaders: MNIST, Bouncing MNIST, KITTI, sequence folders and videos, MOTChallenge."""
