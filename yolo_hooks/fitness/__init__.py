"""The fitness report and its records, files and plot; the val / predict / export reports."""
