"""From findings to a leaner build: what the image really runs (its runtime closure), which
layer and Dockerfile line brought each problem in, and the multi-stage fix that removes it."""
