//! The idol IDL compiler: Hubris-syntax .idol files to client stubs and server dispatch
