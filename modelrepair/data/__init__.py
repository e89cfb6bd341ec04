"""Readers for real datasets (MNIST IDX files). Paths always come from the caller."""

from modelrepair.data.mnist import MnistSubset, load_mnist_digits, read_idx_images, read_idx_labels

__all__ = ["MnistSubset", "load_mnist_digits", "read_idx_images", "read_idx_labels"]
