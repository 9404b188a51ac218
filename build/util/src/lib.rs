//! Build-script helpers for tasks.
