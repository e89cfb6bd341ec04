"""jobs: batch machinery for model-repair sweeps (config -> plan -> shards -> results).

- `jobs.config`: TOML sweep config -> validated frozen `SweepConfig`
- `jobs.plan`, `jobs.manifest`: grid, seeds, shards; ``<sweep>/manifest.json`` + content hash
- `jobs.shard`, `jobs.shard_io`, `jobs.model_cache`: run one shard, write its netCDF file
- `jobs.executors`: backends behind one interface (local, debug, slurm)
- `jobs.driver`, `jobs.status`, `jobs.sweepdir`: submit + wait, status/resume, sweep folders
- `jobs.cli`: the ``mrsweep`` command (pluggable subcommands)
"""
