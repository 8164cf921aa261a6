"""Data loading: datasets, a functional DataLoader, batch transforms and dataset readers."""

from funcgrad.data import datasets, transforms
from funcgrad.data.dataset import ArrayDataset, Dataset
from funcgrad.data.loader import DataLoader, default_collate

__all__ = ["ArrayDataset", "DataLoader", "Dataset", "datasets", "default_collate", "transforms"]
