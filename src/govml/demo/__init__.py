"""The end-to-end demo on the UCI Adult data (``make demo``)."""
