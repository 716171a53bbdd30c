"""Features and their metadata, per (subscriber, snapshot month), from months <= T only."""

from clm.features.build import FeatureConfig, build_features
from clm.features.chunked import write_feature_table
from clm.features.metadata import load_feature_metadata

__all__ = ["FeatureConfig", "build_features", "load_feature_metadata", "write_feature_table"]
