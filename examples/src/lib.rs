//! Example models for pyro-rs, one binary per model in `src/bin/`. Each takes `--fast` for the
//! short run that `cargo xtask ci` makes.
