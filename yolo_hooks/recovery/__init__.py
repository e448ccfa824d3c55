"""When a run dies: recover, crash forensics, the watchdog, resume from a mirror."""
