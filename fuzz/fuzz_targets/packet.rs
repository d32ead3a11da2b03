//! Packet bytes in → engine → packet bytes out. See `dhcplab_engine::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| dhcplab_engine::fuzzing::exercise(data));
