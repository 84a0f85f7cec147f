"""An empty script: what concdiag adds to it is start-up and report writing."""
