"""Grouping at scale: HNSW neighbour graph on many embeddings, against exact brute force.

Synthetic unit vectors with planted duplicate clusters stand in for a photo library, so the
figures measure the grouping alone (no decoding). Recall of above-threshold pairs is checked
against an exact search on a sample of queries.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np

from dupfinder.grouping import NeighbourGraph
from dupfinder.report import ImageRecord


def planted_library(count: int, dim: int, duplicate_share: float, seed: int) -> np.ndarray:
    """`count` unit vectors; a share of them are noisy copies (2-6 per cluster) of others."""
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, dim)).astype(np.float32)
    copies = int(count * duplicate_share)
    sources = rng.integers(0, count - copies, copies)
    vectors[count - copies :] = vectors[sources] + 0.15 * rng.normal(size=(copies, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def brute_force_recall(
    graph: NeighbourGraph, vectors: np.ndarray, threshold: float, sample: int, seed: int
) -> float:
    """Share of exact above-threshold pairs (for sampled queries) that the graph holds."""
    rng = np.random.default_rng(seed)
    queries = rng.choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    expected = found = 0
    for start in range(0, len(queries), 256):
        block = queries[start : start + 256]
        similarity = vectors[block] @ vectors.T
        for row, query in enumerate(block):
            for other in np.nonzero(similarity[row] >= threshold)[0]:
                if other == query:
                    continue
                expected += 1
                found += (min(query, other), max(query, other)) in graph.edges
    return found / expected if expected else 1.0


def run(count: int, dim: int, threshold: float, threads: int, seed: int = 0) -> dict[str, float]:
    vectors = planted_library(count, dim, 0.2, seed)
    records = [ImageRecord(f"/lib/{i:07d}.jpg", 1000, 800, 100_000 + i, 1.6e9) for i in range(count)]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    graph = NeighbourGraph(records, vectors, floor=min(threshold, 0.5), threads=threads)
    built = time.perf_counter() - start
    start = time.perf_counter()
    groups = graph.groups(threshold)
    grouped = time.perf_counter() - start
    start = time.perf_counter()
    graph.groups(min(1.0, threshold + 0.05))
    regrouped = time.perf_counter() - start
    return {
        "images": count,
        "dim": dim,
        "threshold": threshold,
        "threads": threads,
        "graph_seconds": round(built, 3),
        "group_seconds": round(grouped, 4),
        "regroup_seconds": round(regrouped, 4),
        "groups": len(groups),
        "edges": len(graph.edges),
        "pair_recall_vs_brute_force": round(brute_force_recall(graph, vectors, threshold, 2000, seed), 4),
        "peak_rss_growth_mib": round(
            (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--threshold", type=float, default=0.85)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/grouping_scale.json"))
    args = parser.parse_args()
    result = run(args.images, args.dim, args.threshold, args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
