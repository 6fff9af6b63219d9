"""The attention family ratrack builds on: STN, DRAW, NTM and RAM, each usable on its own."""
