"""The mathematics every method stands on: the surrogate step, exact counts and F-beta,
the cuts of sorted scores, histograms, folds, batching per backend, progress reports and
the checks at the public boundary. Nothing here knows about any method."""
