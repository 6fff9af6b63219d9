"""Evaluation: single-object metrics, multi-object metrics (CLEAR MOT, IDF1, HOTA), KITTI rules,
OpenCV peers and plots. See :mod:`ratrack.eval.metrics` and :mod:`ratrack.eval.mot`."""
