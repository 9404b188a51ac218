//! SHA-256 compression with the x86 SHA extensions (Intel's SHA-NI:
//! `SHA256RNDS2`, `SHA256MSG1`, `SHA256MSG2`), found with CPUID at run
//! time.
//!
//! The instructions keep the working variables as two vectors, ABEF and
//! CDGH (lane 0 the last letter), do two rounds per `SHA256RNDS2` given
//! the two message-plus-constant words in the low lanes, and build the
//! message schedule four words at a time: W[t..t+4] from W[t-16..t-12]
//! and W[t-12..t-8] (`MSG1`, the sigma0 part), W[t-7..t-3] (an `ALIGNR`
//! of two quads) and W[t-4..t] (`MSG2`, the sigma1 part, which needs the
//! words it is completing). Intel's "New Instructions Supporting the
//! Secure Hash Algorithm on Intel Architecture Processors" (2013)
//! describes the scheme.
//!
//! It is assembly, not `core::arch` intrinsics: our tasks' target
//! (`x86_64-unknown-none`) is soft-float, and LLVM has no XMM registers
//! to give vector types there, even inside a `#[target_feature]`
//! function. One `asm!` block owns the XMM registers it names (declared
//! clobbered) for the whole call; the compiler uses none of them in a
//! soft-float task, and Linux saves them with each process (hosted tasks
//! are processes).

use core::arch::asm;
use core::sync::atomic::{AtomicU8, Ordering};

/// 16-byte alignment: legacy-SSE `paddd` with a memory operand faults
/// (#GP) on anything less.
#[repr(C, align(16))]
struct Aligned<T>(T);

/// The round constants (FIPS 180-4, 4.2.2): the first 32 bits of the
/// fractional parts of the cube roots of the first 64 primes.
static K: Aligned<[u32; 64]> = Aligned([
    0x428a_2f98,
    0x7137_4491,
    0xb5c0_fbcf,
    0xe9b5_dba5,
    0x3956_c25b,
    0x59f1_11f1,
    0x923f_82a4,
    0xab1c_5ed5,
    0xd807_aa98,
    0x1283_5b01,
    0x2431_85be,
    0x550c_7dc3,
    0x72be_5d74,
    0x80de_b1fe,
    0x9bdc_06a7,
    0xc19b_f174,
    0xe49b_69c1,
    0xefbe_4786,
    0x0fc1_9dc6,
    0x240c_a1cc,
    0x2de9_2c6f,
    0x4a74_84aa,
    0x5cb0_a9dc,
    0x76f9_88da,
    0x983e_5152,
    0xa831_c66d,
    0xb003_27c8,
    0xbf59_7fc7,
    0xc6e0_0bf3,
    0xd5a7_9147,
    0x06ca_6351,
    0x1429_2967,
    0x27b7_0a85,
    0x2e1b_2138,
    0x4d2c_6dfc,
    0x5338_0d13,
    0x650a_7354,
    0x766a_0abb,
    0x81c2_c92e,
    0x9272_2c85,
    0xa2bf_e8a1,
    0xa81a_664b,
    0xc24b_8b70,
    0xc76c_51a3,
    0xd192_e819,
    0xd699_0624,
    0xf40e_3585,
    0x106a_a070,
    0x19a4_c116,
    0x1e37_6c08,
    0x2748_774c,
    0x34b0_bcb5,
    0x391c_0cb3,
    0x4ed8_aa4a,
    0x5b9c_ca4f,
    0x682e_6ff3,
    0x748f_82ee,
    0x78a5_636f,
    0x84c8_7814,
    0x8cc7_0208,
    0x90be_fffa,
    0xa450_6ceb,
    0xbef9_a3f7,
    0xc671_78f2,
]);

/// What CPUID said: 0 not asked yet, 1 no, 2 yes.
static AVAILABLE: AtomicU8 = AtomicU8::new(0);

/// Whether this CPU has every feature [`compress`] is compiled for.
pub fn available() -> bool {
    match AVAILABLE.load(Ordering::Relaxed) {
        0 => {
            let yes = detect();
            AVAILABLE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
        v => v == 2,
    }
}

/// CPUID leaf 1 (EDX bit 26 SSE2; ECX bit 9 SSSE3, bit 19 SSE4.1) and
/// leaf 7 subleaf 0 (EBX bit 29 SHA). CPUID is an instruction, not a
/// system call: it runs in any task.
fn detect() -> bool {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    #[allow(unused_unsafe)]
    // Safety: CPUID exists on every x86_64 CPU; leaves above the highest
    // one the CPU has return data, never fault.
    let (max, one, seven) = unsafe {
        let max = __cpuid(0).eax;
        (max, __cpuid(1), __cpuid_count(7, 0))
    };
    let bit = |reg: u32, n: u32| reg & (1 << n) != 0;
    max >= 7
        && bit(one.edx, 26)
        && bit(one.ecx, 9)
        && bit(one.ecx, 19)
        && bit(seven.ebx, 29)
}

/// `pshufb` mask: reverses the bytes of each 32-bit lane (block words
/// are big-endian).
static BSWAP: [u8; 16] = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12];

/// Four rounds: xmm0 = W[4q..4q+4] (in `$w`) + K[4q..4q+4] (at byte
/// `$k` of the table), two rounds on its low half, two on its high half.
/// ABEF lives in xmm1, CDGH in xmm2; each `sha256rnds2` leaves the new
/// ABEF in its first operand, whose old CDGH role passes to the other.
macro_rules! rounds {
    ($w:literal, $k:literal) => {
        concat!(
            "movdqa xmm0, ",
            $w,
            "\n",
            "paddd xmm0, xmmword ptr [{k} + ",
            $k,
            "]\n",
            "sha256rnds2 xmm2, xmm1, xmm0\n",
            "pshufd xmm0, xmm0, 0x0E\n",
            "sha256rnds2 xmm1, xmm2, xmm0\n",
        )
    };
}

/// The next four schedule words into `$new` (which held the quad four
/// back): msg1 of it and the quad after it, plus W[t-7..t-3] (the quad
/// two back shifted one word, topped up from the last quad), then msg2
/// with the last quad.
macro_rules! schedule {
    ($new:literal, $next:literal, $prev2:literal, $prev1:literal) => {
        concat!(
            "sha256msg1 ",
            $new,
            ", ",
            $next,
            "\n",
            "movdqa xmm7, ",
            $prev1,
            "\n",
            "palignr xmm7, ",
            $prev2,
            ", 4\n",
            "paddd ",
            $new,
            ", xmm7\n",
            "sha256msg2 ",
            $new,
            ", ",
            $prev1,
            "\n",
        )
    };
}

/// Compresses `blocks` into `state`.
///
/// # Safety
///
/// The CPU must have SHA, SSE2, SSSE3 and SSE4.1 ([`available`]).
pub unsafe fn compress(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    if blocks.is_empty() {
        return;
    }
    // Safety: the block reads `blocks.len()` whole blocks from `data`,
    // 64 bytes of K at each of 16 offsets, 16 bytes of BSWAP, and reads
    // and writes the 32 bytes of `state`; it touches no stack and no
    // register it does not declare.
    unsafe {
        asm!(
            // The state as ABEF (xmm1) and CDGH (xmm2), lane 0 last.
            "movdqu xmm1, xmmword ptr [{state}]",
            "movdqu xmm2, xmmword ptr [{state} + 16]",
            "movdqu xmm8, xmmword ptr [{bswap}]",
            "pshufd xmm1, xmm1, 0xB1",
            "pshufd xmm2, xmm2, 0x1B",
            "movdqa xmm7, xmm1",
            "palignr xmm1, xmm2, 8",
            "pblendw xmm2, xmm7, 0xF0",
            "2:",
            "movdqa xmm9, xmm1",
            "movdqa xmm10, xmm2",
            "movdqu xmm3, xmmword ptr [{data}]",
            "pshufb xmm3, xmm8",
            "movdqu xmm4, xmmword ptr [{data} + 16]",
            "pshufb xmm4, xmm8",
            "movdqu xmm5, xmmword ptr [{data} + 32]",
            "pshufb xmm5, xmm8",
            "movdqu xmm6, xmmword ptr [{data} + 48]",
            "pshufb xmm6, xmm8",
            rounds!("xmm3", "0"),
            rounds!("xmm4", "16"),
            rounds!("xmm5", "32"),
            rounds!("xmm6", "48"),
            schedule!("xmm3", "xmm4", "xmm5", "xmm6"),
            rounds!("xmm3", "64"),
            schedule!("xmm4", "xmm5", "xmm6", "xmm3"),
            rounds!("xmm4", "80"),
            schedule!("xmm5", "xmm6", "xmm3", "xmm4"),
            rounds!("xmm5", "96"),
            schedule!("xmm6", "xmm3", "xmm4", "xmm5"),
            rounds!("xmm6", "112"),
            schedule!("xmm3", "xmm4", "xmm5", "xmm6"),
            rounds!("xmm3", "128"),
            schedule!("xmm4", "xmm5", "xmm6", "xmm3"),
            rounds!("xmm4", "144"),
            schedule!("xmm5", "xmm6", "xmm3", "xmm4"),
            rounds!("xmm5", "160"),
            schedule!("xmm6", "xmm3", "xmm4", "xmm5"),
            rounds!("xmm6", "176"),
            schedule!("xmm3", "xmm4", "xmm5", "xmm6"),
            rounds!("xmm3", "192"),
            schedule!("xmm4", "xmm5", "xmm6", "xmm3"),
            rounds!("xmm4", "208"),
            schedule!("xmm5", "xmm6", "xmm3", "xmm4"),
            rounds!("xmm5", "224"),
            schedule!("xmm6", "xmm3", "xmm4", "xmm5"),
            rounds!("xmm6", "240"),
            "paddd xmm1, xmm9",
            "paddd xmm2, xmm10",
            "add {data}, 64",
            "dec {n}",
            "jnz 2b",
            // Back to a..h in order.
            "pshufd xmm1, xmm1, 0x1B",
            "pshufd xmm2, xmm2, 0xB1",
            "movdqa xmm7, xmm1",
            "pblendw xmm7, xmm2, 0xF0",
            "palignr xmm2, xmm1, 8",
            "movdqu xmmword ptr [{state}], xmm7",
            "movdqu xmmword ptr [{state} + 16], xmm2",
            state = in(reg) state.as_mut_ptr(),
            data = inout(reg) blocks.as_ptr() => _,
            n = inout(reg) blocks.len() => _,
            k = in(reg) K.0.as_ptr(),
            bswap = in(reg) BSWAP.as_ptr(),
            out("xmm0") _, out("xmm1") _, out("xmm2") _, out("xmm3") _,
            out("xmm4") _, out("xmm5") _, out("xmm6") _, out("xmm7") _,
            out("xmm8") _, out("xmm9") _, out("xmm10") _,
            options(nostack),
        );
    }
}
