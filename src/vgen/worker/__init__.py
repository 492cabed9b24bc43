"""The worker: claims tasks, drives engines, archives results, sweeps deadlines and retention."""
