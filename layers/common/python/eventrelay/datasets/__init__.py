"""Dataset runs: one action call per row of a CSV or JSON Lines file (see README "Dataset runs").

- reader: `DatasetReader`, `DatasetFormat`, `Position` (streaming, resumable rows).
- models: `Run`, `RunState`, `RowError`, `StartMessage`, `PageMessage`, ids and limits.
- store: `RunStore` (runs in the deliveries table).
- files: `DatasetFiles` (S3: one object version, read from an offset).
- expander: `DatasetExpander` (a page at a time; the dataset expander function).
- progress: `RunProgress` (the runner counts finished rows), `DeliveryQueues` (which queue).
"""
