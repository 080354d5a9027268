"""Data: readers for IDX, Kaggle CSV and npz files, the embedded sample and downloads."""
