"""The enforcement sweep, blocks, terminations, disputes and availability credit (Art. 16, 20, 21, 33-37)."""
