//! Hubris-style event counters, found by the debugger by symbol
