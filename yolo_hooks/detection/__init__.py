"""Detection alerts in predict / track: the hook, its pure rules, frames, hand-over and alert images."""
