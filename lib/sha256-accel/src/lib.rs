//! Streaming SHA-256 (FIPS 180-4) for image identities, fast where it can
//! be.
//!
//! The FPGA manager hashes every byte of every image it forwards to a
//! driver, and on the hosted board the device models take those bytes at
//! close to memory speed, so the hash is most of what a load costs unless
//! it is fast. `sha2`'s own x86 backend finds the SHA extensions with
//! `cpufeatures`, which answers "no" on every `target_os = "none"` target:
//! our tasks (`x86_64-unknown-none`) always got the portable code, about a
//! sixth of the speed of the SHA extensions.
//!
//! So this crate keeps the streaming state and the padding itself and
//! picks the compression function once, at run time:
//!
//! - on x86_64, CPUID says whether the CPU has SHA, SSE2, SSSE3 and
//!   SSE4.1; if so, [`x86`]'s compression runs in a function compiled for
//!   those features only (the rest of the task stays soft-float). Hosted
//!   tasks are Linux processes, and Linux saves and restores every
//!   process's XMM registers, so using them is sound there;
//! - anywhere else (thumbv7em, or an x86 CPU without the extensions),
//!   `sha2::compress256`, the same portable code as `sha2::Sha256`.
//!
//! Both give the same digest; the tests compare them with each other and
//! with `sha2::Sha256` over random inputs cut at random places.

#![no_std]

#[cfg(target_arch = "x86_64")]
mod x86;

/// SHA-256's block size in bytes.
const BLOCK: usize = 64;

/// The initial hash value (FIPS 180-4, 5.3.3): the first 32 bits of the
/// fractional parts of the square roots of the first eight primes.
const H0: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// Which compression function a hasher uses.
#[derive(Copy, Clone, Debug, Eq, PartialEq)]
pub enum Engine {
    /// `sha2::compress256`: portable Rust.
    Portable,
    /// The x86 SHA extensions (SHA-NI).
    #[cfg(target_arch = "x86_64")]
    ShaNi,
}

impl Engine {
    /// The fastest engine this CPU runs.
    pub fn best() -> Self {
        #[cfg(target_arch = "x86_64")]
        if x86::available() {
            return Self::ShaNi;
        }
        Self::Portable
    }

    /// Compresses `blocks` into `state`, in order.
    fn compress(self, state: &mut [u32; 8], blocks: &[[u8; BLOCK]]) {
        match self {
            Self::Portable => {
                for b in blocks {
                    let b =
                        sha2::digest::generic_array::GenericArray::from_slice(
                            b,
                        );
                    sha2::compress256(state, core::slice::from_ref(b));
                }
            }
            #[cfg(target_arch = "x86_64")]
            // Safety: `ShaNi` is only chosen by `best` once CPUID has
            // reported every feature `x86::compress` is compiled for.
            Self::ShaNi => unsafe { x86::compress(state, blocks) },
        }
    }
}

/// A SHA-256 over bytes fed in order.
#[derive(Clone, Debug)]
pub struct Sha256 {
    state: [u32; 8],
    /// A partial block waiting for more bytes.
    pending: [u8; BLOCK],
    /// How many bytes of `pending` are filled (always under `BLOCK`).
    filled: usize,
    /// Bytes fed so far (the length field is this times 8, mod 2^64).
    total: u64,
    engine: Engine,
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

impl Sha256 {
    /// An empty hash using the fastest engine this CPU runs.
    pub fn new() -> Self {
        Self::starting(Engine::best())
    }

    /// An empty hash using the portable engine, whatever the CPU.
    pub fn portable() -> Self {
        Self::starting(Engine::Portable)
    }

    fn starting(engine: Engine) -> Self {
        Self {
            state: H0,
            pending: [0; BLOCK],
            filled: 0,
            total: 0,
            engine,
        }
    }

    /// The engine this hash uses.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Feeds the next `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        if self.filled > 0 {
            let n = (BLOCK - self.filled).min(data.len());
            self.pending[self.filled..self.filled + n]
                .copy_from_slice(&data[..n]);
            self.filled += n;
            data = &data[n..];
            if self.filled < BLOCK {
                return;
            }
            let block = self.pending;
            self.engine.compress(&mut self.state, &[block]);
            self.filled = 0;
        }
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        self.engine.compress(&mut self.state, blocks);
        self.pending[..rest.len()].copy_from_slice(rest);
        self.filled = rest.len();
    }

    /// Pads (a 1 bit, zeros, the length in bits as 64 big-endian bits)
    /// and returns the digest.
    pub fn finalize(mut self) -> [u8; 32] {
        let bits = self.total.wrapping_mul(8);
        let mut tail = [0u8; 2 * BLOCK];
        tail[..self.filled].copy_from_slice(&self.pending[..self.filled]);
        tail[self.filled] = 0x80;
        // The length goes in the last 8 bytes of the first block with room.
        let len = if self.filled < BLOCK - 8 {
            BLOCK
        } else {
            2 * BLOCK
        };
        tail[len - 8..len].copy_from_slice(&bits.to_be_bytes());
        let (blocks, _) = tail[..len].as_chunks::<BLOCK>();
        self.engine.compress(&mut self.state, blocks);
        let mut out = [0u8; 32];
        for (o, w) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&w.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests;
