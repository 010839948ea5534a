"""dupfinder's Keras 3 trainer (`dupfinder-train`): the siamese embedding model, its data, and export.

Training code imports Keras but never TensorFlow, so it runs on the JAX backend too; only the
optional `keras` export route needs TensorFlow. See trainer/README.md.
"""
