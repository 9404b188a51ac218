//! app.toml: schema, validation and memory layout
