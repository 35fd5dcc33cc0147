//! A fast non-cryptographic hasher (FNV-1a) for the simulator's own maps.
//!
//! The maps hold task ids, host ids and interned names that the simulator generates itself,
//! so hash flooding is no concern, and the default SipHash showed up as a large share of
//! load-mode prefill time.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a, 64 bits.
#[derive(Clone, Copy, Debug)]
pub struct FnvHasher(u64);

impl Default for FnvHasher {
    fn default() -> Self {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_i64(&mut self, value: i64) {
        // One multiply-xor round per integer keeps dense ids well spread.
        self.0 = (self.0 ^ value as u64)
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(29);
    }

    fn write_u32(&mut self, value: u32) {
        self.write_i64(i64::from(value));
    }
}

/// A `HashMap` with [`FnvHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FnvHasher>>;
