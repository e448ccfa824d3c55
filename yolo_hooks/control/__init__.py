"""Run control: steer a running training from outside (shell, Telegram, signed requests): stop, extend, patience,
save, status."""
