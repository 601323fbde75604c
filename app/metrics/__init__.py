"""Prometheus metrics: `families` holds the metric objects and imports nothing of the app;
`exposition` renders /metrics for the web app; `worker` exports the queue worker's samples."""
