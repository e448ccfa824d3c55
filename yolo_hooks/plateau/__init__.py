"""Early stopping by fitness and learning-rate reduction on plateau, and the plateau monitor they share."""
