"""What goes into the model's window: workspace reading, retrieval and token-budget packing.

Never does network I/O and knows nothing about LSP: it takes text and positions, returns text."""
