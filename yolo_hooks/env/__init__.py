"""Hooks outside your script: ``YOLO_HOOKS`` activation and the tune summary."""
