"""Data: one reader per format (OTB, TLP, MOTChallenge, KITTI, KITTI raw, videos, detection
files), MNIST and Bouncing MNIST, motion on stills, and the training pools and canvases."""
