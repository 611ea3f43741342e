//! Bit lines for the QR mask choice: one row or column of a symbol as one word (`u64` up to
//! 64 modules, `u128` up to 128, [`Wide`] up to 192), bit `k` = module `k`, 1 = dark; the
//! eight mask patterns as such lines; and the ISO/IEC 18004 mask penalty scored a whole line
//! at a time with shifts and popcounts instead of module by module.
//!
//! Pure bit arithmetic for `qr_matrix`: knows nothing of the `qrcode` crate's canvas (which
//! modules are data is `qr_matrix`'s business), ESC/POS or paper.

use std::ops::{BitAnd, BitOr, BitXor, Not, Shl, Shr};

/// One row or column of modules, bit `k` = module `k` (1 = dark); bits at or above the
/// symbol's width are 0. Shifts are by less than 64.
pub(super) trait Line:
    Copy
    + PartialEq
    + std::fmt::Debug
    + Not<Output = Self>
    + BitAnd<Output = Self>
    + BitOr<Output = Self>
    + BitXor<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
{
    /// No module set.
    const ZERO: Self;
    /// Bits `0..n` set.
    fn low(n: usize) -> Self;
    /// Only bit `k` set.
    fn bit(k: usize) -> Self;
    /// Whether bit `k` is set.
    fn test(self, k: usize) -> bool;
    /// How many bits are set.
    fn count(self) -> u32;
    /// [`Line::count`] for lines with few bits set (runs, finder-like patterns): a step per
    /// bit, where `count` costs the same dozen-odd steps for any line on CPUs without a
    /// popcount instruction (the x86-64 baseline).
    fn count_sparse(self) -> u32;
    /// The 12-bit `pattern` repeated from bit 0 over the whole line (bit `k` = pattern bit
    /// `k % 12`).
    fn repeat12(pattern: u16) -> Self;
}

/// Bits 0, 12, 24, … of a `u128`: multiplying a 12-bit pattern by it repeats the pattern.
const EVERY_12: u128 = {
    let mut c = 0u128;
    let mut k = 0;
    while k < 128 {
        c |= 1 << k;
        k += 12;
    }
    c
};

macro_rules! primitive_line {
    ($t:ty) => {
        impl Line for $t {
            const ZERO: Self = 0;
            fn low(n: usize) -> Self {
                if n >= <$t>::BITS as usize {
                    !0
                } else {
                    (1 << n) - 1
                }
            }
            fn bit(k: usize) -> Self {
                1 << k
            }
            fn test(self, k: usize) -> bool {
                (self >> k) & 1 != 0
            }
            fn count(self) -> u32 {
                self.count_ones()
            }
            fn count_sparse(self) -> u32 {
                let (mut bits, mut n) = (self, 0);
                while bits != 0 {
                    bits &= bits - 1;
                    n += 1;
                }
                n
            }
            fn repeat12(pattern: u16) -> Self {
                // The copies do not overlap, so there are no carries; the top copy is cut.
                <$t>::from(pattern & 0xFFF).wrapping_mul(EVERY_12 as $t)
            }
        }
    };
}
primitive_line!(u64);
primitive_line!(u128);

/// A line of up to 192 modules (QR versions 28–40 are 129–177 wide), least significant word
/// first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Wide([u64; 3]);

impl Not for Wide {
    type Output = Self;
    fn not(self) -> Self {
        Self(self.0.map(|w| !w))
    }
}

macro_rules! wide_bitwise {
    ($trait:ident, $method:ident, $op:tt) => {
        impl $trait for Wide {
            type Output = Self;
            fn $method(self, other: Self) -> Self {
                let (a, b) = (self.0, other.0);
                Self([a[0] $op b[0], a[1] $op b[1], a[2] $op b[2]])
            }
        }
    };
}
wide_bitwise!(BitAnd, bitand, &);
wide_bitwise!(BitOr, bitor, |);
wide_bitwise!(BitXor, bitxor, ^);

impl Shl<u32> for Wide {
    type Output = Self;
    fn shl(self, s: u32) -> Self {
        let [a, b, c] = self.0;
        match s {
            0 => self,
            1..64 => Self([a << s, b << s | a >> (64 - s), c << s | b >> (64 - s)]),
            _ => panic!("Wide shift by {s}: only 0..64 is supported"),
        }
    }
}

impl Shr<u32> for Wide {
    type Output = Self;
    fn shr(self, s: u32) -> Self {
        let [a, b, c] = self.0;
        match s {
            0 => self,
            1..64 => Self([a >> s | b << (64 - s), b >> s | c << (64 - s), c >> s]),
            _ => panic!("Wide shift by {s}: only 0..64 is supported"),
        }
    }
}

impl Line for Wide {
    const ZERO: Self = Self([0; 3]);
    fn low(n: usize) -> Self {
        Self([0, 1, 2].map(|i| u64::low(n.saturating_sub(64 * i))))
    }
    fn bit(k: usize) -> Self {
        let mut w = Self::ZERO;
        w.0[k / 64] = 1 << (k % 64);
        w
    }
    fn test(self, k: usize) -> bool {
        self.0[k / 64].test(k % 64)
    }
    fn count(self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
    fn count_sparse(self) -> u32 {
        self.0.iter().map(|w| w.count_sparse()).sum()
    }
    fn repeat12(pattern: u16) -> Self {
        // Word `i` starts at bit 64·i, i.e. at pattern bit 64·i mod 12 (0, 4, 8).
        let pattern = pattern & 0xFFF;
        Self([0u32, 4, 8].map(|s| u64::repeat12((pattern >> s | pattern << (12 - s)) & 0xFFF)))
    }
}

/// Whether mask pattern `p` (0 = `(x + y) % 2 == 0` … 7, as `qrcode::canvas::MaskPattern`)
/// flips the module at column `x`, row `y`.
const fn mask_flips(p: usize, x: usize, y: usize) -> bool {
    match p {
        0 => (x + y).is_multiple_of(2),
        1 => y.is_multiple_of(2),
        2 => x.is_multiple_of(3),
        3 => (x + y).is_multiple_of(3),
        4 => (y / 2 + x / 3).is_multiple_of(2),
        5 => (x * y) % 2 + (x * y) % 3 == 0,
        6 => ((x * y) % 2 + (x * y) % 3).is_multiple_of(2),
        _ => ((x + y) % 2 + (x * y) % 3).is_multiple_of(2),
    }
}

/// `MASKS[p][0][y % 12]`: the modules mask `p` flips in row `y` (bit `x % 12`);
/// `MASKS[p][1][x % 12]`: those in column `x` (bit `y % 12`). Every pattern repeats every 12
/// modules (6 across, 4 or 6 down), so 12 × 12 cover a symbol of any size.
const MASKS: [[[u16; 12]; 2]; 8] = {
    let mut t = [[[0u16; 12]; 2]; 8];
    let mut p = 0;
    while p < 8 {
        let mut i = 0;
        while i < 12 {
            let mut j = 0;
            while j < 12 {
                t[p][0][i] |= (mask_flips(p, j, i) as u16) << j;
                t[p][1][i] |= (mask_flips(p, i, j) as u16) << j;
                j += 1;
            }
            i += 1;
        }
        p += 1;
    }
    t
};

/// The modules mask `p` (0–7) flips in row `index` (`column` false) or column `index`.
pub(super) fn mask_line<L: Line>(p: usize, column: bool, index: usize) -> L {
    L::repeat12(MASKS[p][usize::from(column)][index % 12])
}

/// The mask penalty of a masked symbol `w` modules wide is [`row_penalty`] plus
/// [`column_penalty`]: N1 (runs of 5 + n: 3 + n), N2 (2×2 blocks: 3), N3 (1:1:3:1:1 without 4
/// light modules on one side: 40) and N4 (distance of the dark share from 50 %), exactly as
/// the `qrcode` crate scores them. Each part leaves out the 9 × 40 of N3 that the three real
/// finder patterns always score in its direction.
///
/// This part: N1 and N3 along the `rows`, N2 and N4.
pub(super) fn row_penalty<L: Line>(rows: &[L], w: usize) -> i32 {
    let pairs = L::low(w - 1);
    let mut score = -360;
    let mut dark = 0;
    for (y, &row) in rows.iter().enumerate() {
        let same = alike_with_next(row, pairs);
        score += runs_and_finders(row, same);
        dark += row.count();
        if let Some(&below) = rows.get(y + 1) {
            // Same colour down at x and at x + 1, and across at x.
            let down = !(row ^ below);
            score += 3 * (down & (down >> 1) & same).count() as i32;
        }
    }
    // dark ≤ w² ≤ 177².
    let ratio = (dark as usize * 200 / (w * w)) as i32;
    score + (ratio - 100).abs()
}

/// The other part of the penalty (see [`row_penalty`]): N1 and N3 down the `columns`.
pub(super) fn column_penalty<L: Line>(columns: &[L], w: usize) -> i32 {
    let pairs = L::low(w - 1);
    let mut score = -360;
    for &column in columns {
        score += runs_and_finders(column, alike_with_next(column, pairs));
    }
    score
}

/// Bit `k` of a line: modules `k` and `k + 1` are alike (`pairs` = bits `0..w - 1`).
fn alike_with_next<L: Line>(l: L, pairs: L) -> L {
    !(l ^ (l >> 1)) & pairs
}

/// N1 and N3 of one line `l`, given [`alike_with_next`] as `same`.
fn runs_and_finders<L: Line>(l: L, same: L) -> i32 {
    // A run of n ≥ 5 leaves n - 4 bits in `run5` and costs n - 2: one per bit plus 2 at its
    // first bit.
    let two = same & (same >> 1);
    let run5 = two & (two >> 2);
    let mut score = 0;
    if run5 != L::ZERO {
        score += (run5.count_sparse() + 2 * (run5 & !(run5 << 1)).count_sparse()) as i32;
    }
    // Bit j: modules j..j + 7 read dark, light, dark, dark, dark, light, dark (`edge`: dark,
    // then light). Past the end `l` is 0, so no bit beyond w - 7 survives.
    let edge = l & !(l >> 1);
    let finder = edge & (edge >> 4) & (l >> 2) & (l >> 3) & (l >> 6);
    if finder != L::ZERO {
        // Bit j: some dark module in j - 4..j, in j + 7..j + 11 (outside the symbol = light).
        let dark_before = (l << 1) | (l << 2) | (l << 3) | (l << 4);
        let dark_after = (l >> 7) | (l >> 8) | (l >> 9) | (l >> 10);
        score += 40 * (finder & !(dark_before & dark_after)).count_sparse() as i32;
    }
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Wide` agrees with `u128` on the low 128 bits, and carries across its words.
    #[test]
    fn wide_matches_u128() {
        let values = [
            0u128,
            1,
            u128::MAX >> 1,
            0x8000_0000_0000_0001_F0F0_0000_0000_0003,
        ];
        let wide = |v: u128| Wide([v as u64, (v >> 64) as u64, 0]);
        for v in values {
            assert_eq!(!wide(v) & Wide::low(128), wide(!v));
            for s in 0..64 {
                assert_eq!(
                    wide(v >> 1) << s & Wide::low(128),
                    wide((v >> 1) << s),
                    "{v:x} << {s}"
                );
                assert_eq!(wide(v) >> s, wide(v >> s), "{v:x} >> {s}");
            }
            assert_eq!(wide(v).count(), v.count_ones());
            assert_eq!(wide(v).count_sparse(), v.count_ones());
            assert_eq!(v.count_sparse(), v.count_ones());
        }
        assert_eq!(Wide::bit(130) >> 3, Wide::bit(127));
        assert_eq!(Wide::bit(127) << 3, Wide::bit(130));
        assert_eq!(Wide::low(177).count(), 177);
        assert_eq!(Wide::low(130), Wide([!0, !0, 3]));
        assert!(Wide::bit(176).test(176) && !Wide::bit(176).test(175));
    }

    /// `repeat12` puts pattern bit `k % 12` at every bit `k` of every line type.
    #[test]
    fn repeat12_repeats_everywhere() {
        for pattern in [0b1010_0110_0011u16, 0xFFF, 1, 0x800] {
            let on = |k: usize| (pattern >> (k % 12)) & 1 == 1;
            let (a, b, c) = (
                u64::repeat12(pattern),
                u128::repeat12(pattern),
                Wide::repeat12(pattern),
            );
            assert!((0..64).all(|k| a.test(k) == on(k)), "{pattern:b}");
            assert!((0..128).all(|k| b.test(k) == on(k)), "{pattern:b}");
            assert!((0..192).all(|k| c.test(k) == on(k)), "{pattern:b}");
        }
    }
}
