"""Our events in the experiment tracker the run already logs to (Ultralytics' MLflow and Weights & Biases)."""
