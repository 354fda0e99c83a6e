"""The prompt catalogue: semantic prompt names to sound files, per language."""
