//! Hubris-style ring buffers of trace entries, found by the debugger by symbol
