//! Where the strings and brackets of one decompressed file are, found 64 bytes at a time.
//!
//! Owns [`Structure`], the first pass of the fast reader ([`super::skim`]): for every 64-byte
//! block of a file, bit masks of the quotes that open or close a string (escaped quotes left out)
//! and of the brackets outside strings. With them the scanner finds the end of a string, or of a
//! nested object or array, with a few bit operations instead of looking at its bytes again. The
//! masks are built with AVX2 and PCLMULQDQ when the CPU has them (checked at run time), with SSE2
//! on other x86_64 CPUs, and byte by byte elsewhere; all give the same masks.
//!
//! What it does not do: validate JSON. It only reports the one thing a valid file never has that
//! would make its masks disagree with a JSON parser (a backslash outside a string), so that the
//! caller can hand such a file to serde.

/// Bit masks of one file, one [`Masks`] per 64-byte block.
#[derive(Debug, Default)]
pub(super) struct Structure {
    blocks: Vec<Masks>,
}

/// The masks of one 64-byte block: bit `i` is byte `64 * block + i`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Masks {
    /// Quotes that open or close a string.
    quote: u64,
    /// `{` and `[` outside strings.
    open: u64,
    /// `}` and `]` outside strings.
    close: u64,
    /// Backslashes (all inside strings, or the file is reported as not JSON).
    backslash: u64,
}

/// A backslash outside a string: the file is not JSON, and its masks would be wrong.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct NotJson;

/// Where the bytes that matter are in one block, before strings are known.
#[derive(Clone, Copy)]
struct Classes {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
}

/// What a block passes on to the next one.
#[derive(Default)]
struct Carry {
    /// All ones when the block ended inside a string.
    inside: u64,
    /// 1 when the block ended with an odd run of backslashes (the next byte is escaped).
    escaped: u64,
}

impl Structure {
    /// Builds the masks of `text`, reusing this value's storage.
    pub fn index(&mut self, text: &[u8]) -> Result<(), NotJson> {
        self.reset(text.len());
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
            {
                // SAFETY: the CPU has AVX2 and PCLMULQDQ, checked just above.
                return unsafe { self.index_avx2(text) };
            }
            // SAFETY: SSE2 is part of every x86_64 CPU.
            unsafe { self.index_sse2(text) }
        }
        // SAFETY: the byte-by-byte classifier needs no CPU feature.
        #[cfg(not(target_arch = "x86_64"))]
        unsafe {
            self.index_with::<Scalar>(text)
        }
    }

    /// Room for the masks of a text of `len` bytes.
    fn reset(&mut self, len: usize) {
        // Every block is written by the pass, so only new room is zeroed, not the old masks.
        let blocks = len.div_ceil(64);
        self.blocks.truncate(blocks);
        self.blocks.resize(blocks, Masks::default());
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,pclmulqdq")]
    unsafe fn index_avx2(&mut self, text: &[u8]) -> Result<(), NotJson> {
        // SAFETY: this function's own contract: it only runs on CPUs with AVX2 and PCLMULQDQ.
        unsafe { self.index_with::<Avx2>(text) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    unsafe fn index_sse2(&mut self, text: &[u8]) -> Result<(), NotJson> {
        // SAFETY: SSE2 is part of every x86_64 CPU.
        unsafe { self.index_with::<Sse2>(text) }
    }

    /// The block loop, inlined into each CPU-specific entry so the classifier's intrinsics are.
    ///
    /// # Safety
    ///
    /// The CPU has the features `C` uses.
    #[inline(always)]
    unsafe fn index_with<C: Classify>(&mut self, text: &[u8]) -> Result<(), NotJson> {
        // SAFETY (both closures): the CPU has `C`'s features, this function's contract.
        let classify = |block: &[u8]| unsafe { C::classify(block) };
        let prefix_xor = |mask: u64| unsafe { C::prefix_xor(mask) };
        let mut carry = Carry::default();
        let mut stray = 0u64;
        let mut chunks = text.chunks_exact(64);
        let mut blocks = self.blocks.iter_mut();
        for (chunk, masks) in chunks.by_ref().zip(blocks.by_ref()) {
            stray |= masks.fill(classify(chunk), &mut carry, prefix_xor);
        }
        let tail = chunks.remainder();
        if let Some(masks) = blocks.next() {
            // Spaces are nothing to any mask.
            let mut padded = [b' '; 64];
            padded[..tail.len()].copy_from_slice(tail);
            stray |= masks.fill(classify(&padded), &mut carry, prefix_xor);
        }
        if stray == 0 { Ok(()) } else { Err(NotJson) }
    }

    /// The string quotes at or after `from`, in order.
    #[inline(always)]
    pub fn quotes_from(&self, from: usize) -> Quotes<'_> {
        let mut quotes = Quotes {
            blocks: &self.blocks,
            block: 0,
            bits: 0,
            block_backslash: false,
            since_open: false,
        };
        quotes.seek(from);
        quotes
    }

    /// The index just past the object or array whose bracket is at `start` (outside a string);
    /// `None` when it is not closed.
    #[inline]
    pub fn container_end(&self, start: usize) -> Option<usize> {
        let mut block = start / 64;
        let from = u64::MAX << (start % 64);
        let first = self.blocks.get(block)?;
        let mut open = first.open & from;
        let mut close = first.close & from;
        let mut depth = 0u32;
        loop {
            let closes = close.count_ones();
            if closes < depth {
                // Too few closing brackets to get back to depth 0 in this block.
                depth = depth + open.count_ones() - closes;
            } else {
                let mut brackets = open | close;
                while brackets != 0 {
                    let bit = brackets & brackets.wrapping_neg();
                    if open & bit != 0 {
                        depth += 1;
                    } else {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(block * 64 + bit.trailing_zeros() as usize + 1);
                        }
                    }
                    brackets ^= bit;
                }
            }
            block += 1;
            let next = self.blocks.get(block)?;
            open = next.open;
            close = next.close;
        }
    }
}

/// A cursor over the string quotes of a file: the scanner takes strings from it in order, so
/// finding the end of a string costs a few bit operations on a word kept in a register.
#[derive(Debug, Clone)]
pub(super) struct Quotes<'s> {
    blocks: &'s [Masks],
    /// The block `bits` comes from.
    block: usize,
    /// The quotes of that block not taken yet.
    bits: u64,
    /// That block has a backslash.
    block_backslash: bool,
    /// Some block entered since the last opening quote [`Quotes::string`] took has a backslash.
    since_open: bool,
}

impl Quotes<'_> {
    /// The next quote, `None` after the last.
    #[inline(always)]
    pub fn next_quote(&mut self) -> Option<usize> {
        while self.bits == 0 {
            self.block += 1;
            let masks = self.blocks.get(self.block)?;
            self.bits = masks.quote;
            self.block_backslash = masks.backslash != 0;
            self.since_open |= self.block_backslash;
        }
        let at = self.block * 64 + self.bits.trailing_zeros() as usize;
        self.bits &= self.bits - 1;
        Some(at)
    }

    /// The next two quotes, a string's opening and closing ones, and whether a block they span
    /// has a backslash (`false` means the string has no escape; `true` only that it may).
    #[inline(always)]
    pub fn string(&mut self) -> Option<(usize, usize, bool)> {
        let open = self.next_quote()?;
        self.since_open = self.block_backslash;
        let close = self.next_quote()?;
        Some((open, close, self.since_open))
    }

    /// Moves to the first quote at or after `from`.
    #[inline(always)]
    pub fn seek(&mut self, from: usize) {
        self.block = from / 64;
        let masks = self.blocks.get(self.block).copied().unwrap_or_default();
        self.bits = masks.quote & (u64::MAX << (from % 64));
        self.block_backslash = masks.backslash != 0;
    }
}

impl Masks {
    /// The masks of a block from its classes; returns its backslashes outside strings.
    #[inline(always)]
    fn fill(
        &mut self,
        classes: Classes,
        carry: &mut Carry,
        prefix_xor: impl Fn(u64) -> u64,
    ) -> u64 {
        let escaped = if classes.backslash | carry.escaped == 0 {
            0
        } else {
            escaped_bytes(classes.backslash, &mut carry.escaped)
        };
        let quote = classes.quote & !escaped;
        // From an opening quote (included) to its closing quote (not included).
        let inside = prefix_xor(quote) ^ carry.inside;
        carry.inside = ((inside as i64) >> 63) as u64;
        *self = Masks {
            quote,
            open: classes.open & !inside,
            close: classes.close & !inside,
            backslash: classes.backslash,
        };
        classes.backslash & !inside
    }
}

/// The bytes escaped by a backslash in a block (the byte after an odd run of backslashes), with
/// the run carried over from the block before. simdjson's branch-free method: a run starting on
/// an even bit ends on an odd one exactly when its length is odd, and adding the run's start to
/// the backslash mask carries through the run to the byte after it.
#[inline]
fn escaped_bytes(backslash: u64, carried: &mut u64) -> u64 {
    const EVEN_BITS: u64 = 0x5555_5555_5555_5555;
    // A backslash escaped by the previous block's run is a plain character.
    let backslash = backslash & !*carried;
    let follows_escape = backslash << 1 | *carried;
    let odd_starts = backslash & !EVEN_BITS & !follows_escape;
    let (even_start_runs, overflow) = odd_starts.overflowing_add(backslash);
    *carried = u64::from(overflow);
    let invert = even_start_runs << 1;
    (EVEN_BITS ^ invert) & follows_escape
}

/// Bit `i` is the parity of the bits of `mask` up to and including `i`.
#[inline(always)]
fn prefix_xor_shifts(mut mask: u64) -> u64 {
    mask ^= mask << 1;
    mask ^= mask << 2;
    mask ^= mask << 4;
    mask ^= mask << 8;
    mask ^= mask << 16;
    mask ^= mask << 32;
    mask
}

/// One way of finding the bytes that matter in a 64-byte block.
///
/// Both methods are `unsafe`: the caller must make sure the CPU has the features the
/// implementation uses (none, SSE2, or AVX2 and PCLMULQDQ).
trait Classify {
    /// The masks of `block`, which is at least 64 bytes long (only 64 are read).
    unsafe fn classify(block: &[u8]) -> Classes;
    /// Bit `i` is the parity of the bits of `mask` up to and including `i`.
    unsafe fn prefix_xor(mask: u64) -> u64;
}

/// Byte by byte: any CPU.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
struct Scalar;

impl Classify for Scalar {
    #[inline(always)]
    unsafe fn classify(block: &[u8]) -> Classes {
        let mut classes = Classes {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for (i, &b) in block.iter().enumerate().take(64) {
            let bit = 1u64 << i;
            match b {
                b'"' => classes.quote |= bit,
                b'\\' => classes.backslash |= bit,
                b'{' | b'[' => classes.open |= bit,
                b'}' | b']' => classes.close |= bit,
                _ => {}
            }
        }
        classes
    }

    #[inline(always)]
    unsafe fn prefix_xor(mask: u64) -> u64 {
        prefix_xor_shifts(mask)
    }
}

/// 4 x 16 bytes with SSE2, which every x86_64 CPU has.
#[cfg(target_arch = "x86_64")]
struct Sse2;

#[cfg(target_arch = "x86_64")]
impl Classify for Sse2 {
    #[inline(always)]
    unsafe fn classify(block: &[u8]) -> Classes {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8,
        };
        assert!(block.len() >= 64);
        let mut classes = Classes {
            quote: 0,
            backslash: 0,
            open: 0,
            close: 0,
        };
        for lane in 0..4 {
            // SAFETY: `block` has 64 readable bytes (asserted above), so bytes 16 * lane .. +16
            // are readable; `_mm_loadu_si128` has no alignment requirement; SSE2 is part of
            // every x86_64 CPU.
            let [q, bs, open, close] = unsafe {
                let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
                // `{` `[` and `}` `]` differ from each other only in bit 5.
                let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
                let bits = |v: __m128i, c: u8| {
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))) as u16 as u64
                };
                [
                    bits(v, b'"'),
                    bits(v, b'\\'),
                    bits(folded, b'{'),
                    bits(folded, b'}'),
                ]
            };
            let shift = 16 * lane;
            classes.quote |= q << shift;
            classes.backslash |= bs << shift;
            classes.open |= open << shift;
            classes.close |= close << shift;
        }
        classes
    }

    #[inline(always)]
    unsafe fn prefix_xor(mask: u64) -> u64 {
        prefix_xor_shifts(mask)
    }
}

/// 2 x 32 bytes with AVX2, and the prefix XOR as a carry-less multiplication.
#[cfg(target_arch = "x86_64")]
struct Avx2;

#[cfg(target_arch = "x86_64")]
impl Classify for Avx2 {
    #[inline(always)]
    unsafe fn classify(block: &[u8]) -> Classes {
        use std::arch::x86_64::{
            __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
            _mm256_set1_epi8,
        };
        assert!(block.len() >= 64);
        // SAFETY: the caller makes sure the CPU has AVX2 (the trait's contract);
        // `block` has 64 readable bytes (asserted above) and the loads have no alignment
        // requirement.
        unsafe {
            let lo = _mm256_loadu_si256(block.as_ptr().cast::<__m256i>());
            let hi = _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>());
            let bits = |v: __m256i, c: u8| {
                _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8))) as u32 as u64
            };
            let both = |c: u8| bits(lo, c) | bits(hi, c) << 32;
            // `{` `[` and `}` `]` differ from each other only in bit 5.
            let lo_folded = _mm256_or_si256(lo, _mm256_set1_epi8(0x20));
            let hi_folded = _mm256_or_si256(hi, _mm256_set1_epi8(0x20));
            let folded = |c: u8| bits(lo_folded, c) | bits(hi_folded, c) << 32;
            Classes {
                quote: both(b'"'),
                backslash: both(b'\\'),
                open: folded(b'{'),
                close: folded(b'}'),
            }
        }
    }

    #[inline(always)]
    unsafe fn prefix_xor(mask: u64) -> u64 {
        use std::arch::x86_64::{_mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x};
        // SAFETY: the caller makes sure the CPU has PCLMULQDQ (the trait's contract).
        // Multiplying by all ones without carries XORs every lower bit into each bit.
        unsafe {
            let product =
                _mm_clmulepi64_si128(_mm_set_epi64x(0, mask as i64), _mm_set_epi64x(0, -1), 0);
            _mm_cvtsi128_si64(product) as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The masks by walking the bytes with a JSON string state: the reference.
    fn walk(text: &[u8]) -> (Vec<u64>, Vec<u64>, Vec<u64>, bool) {
        let blocks = text.len().div_ceil(64);
        let (mut quote, mut open, mut close) = (vec![0; blocks], vec![0; blocks], vec![0; blocks]);
        let (mut inside, mut escaped, mut stray) = (false, false, false);
        for (i, &b) in text.iter().enumerate() {
            let (word, bit) = (i / 64, 1u64 << (i % 64));
            if escaped {
                escaped = false;
                continue;
            }
            match b {
                b'\\' => {
                    escaped = true;
                    stray |= !inside;
                }
                b'"' => {
                    quote[word] |= bit;
                    inside = !inside;
                }
                b'{' | b'[' if !inside => open[word] |= bit,
                b'}' | b']' if !inside => close[word] |= bit,
                _ => {}
            }
        }
        (quote, open, close, stray)
    }

    impl Structure {
        fn column(&self, mask: impl Fn(&Masks) -> u64) -> Vec<u64> {
            self.blocks.iter().map(mask).collect()
        }
    }

    fn check(text: &[u8]) {
        let (quote, open, close, stray) = walk(text);
        let mut built = Structure::default();
        let result = built.index(text);
        assert_eq!(
            result.is_err(),
            stray,
            "{:?}",
            String::from_utf8_lossy(text)
        );
        if !stray {
            assert_eq!(built.column(|m| m.quote), quote);
            assert_eq!(built.column(|m| m.open), open);
            assert_eq!(built.column(|m| m.close), close);
        }
        // Every classifier gives the same masks.
        for (name, other) in [
            ("scalar", {
                let mut s = Structure::default();
                s.reset(text.len());
                // SAFETY: the byte-by-byte classifier needs no CPU feature.
                let r = unsafe { s.index_with::<Scalar>(text) };
                (s, r)
            }),
            #[cfg(target_arch = "x86_64")]
            ("sse2", {
                let mut s = Structure::default();
                s.reset(text.len());
                // SAFETY: SSE2 is part of every x86_64 CPU.
                let r = unsafe { s.index_sse2(text) };
                (s, r)
            }),
        ] {
            let (s, r) = other;
            assert_eq!(r, result, "{name}");
            if !stray {
                assert_eq!(s.blocks, built.blocks, "{name}");
            }
        }
        if !stray {
            // The quote cursor gives the string quotes in order, from anywhere.
            let quotes: Vec<usize> = (0..text.len())
                .filter(|&i| quote[i / 64] >> (i % 64) & 1 == 1)
                .collect();
            for from in [0, 1, 63, 64, 65, text.len() / 2] {
                let mut cursor = built.quotes_from(from);
                let taken: Vec<usize> = std::iter::from_fn(|| cursor.next_quote()).collect();
                let expected: Vec<usize> = quotes.iter().copied().filter(|&q| q >= from).collect();
                assert_eq!(taken, expected);
            }
        }
        if !stray {
            // A string with a backslash inside is never said to have none.
            let mut cursor = built.quotes_from(0);
            while let Some((open, close, may)) = cursor.string() {
                if text[open..close].contains(&b'\\') {
                    assert!(may, "string at {open}");
                }
            }
        }
    }

    #[test]
    fn a_reused_structure_keeps_nothing_of_the_previous_file() {
        let long = [&b"{\"a\":\"[\\\"\",\"b\":[{}]}"[..], &[b' '; 300]].concat();
        let short = b"{\"c\":[1]}";
        let mut reused = Structure::default();
        let mut fresh = Structure::default();
        for text in [&long[..], short, &long[..], b"", short] {
            assert_eq!(reused.index(text), Ok(()));
            assert_eq!(fresh.index(text), Ok(()));
            assert_eq!(reused.blocks, fresh.blocks);
            fresh = Structure::default();
        }
    }

    #[test]
    fn escapes_and_backslash_runs_across_block_boundaries() {
        for run in 0..5 {
            for at in 55..70 {
                let mut text = vec![b'a'; at];
                text[0] = b'"';
                text.extend(std::iter::repeat_n(b'\\', run));
                text.extend(b"\"{}[]\"x\"{");
                check(&text);
            }
        }
    }

    /// A string-aware mix: bytes that matter, with backslashes only inside strings.
    fn json_ish(picks: &[usize], letters: &[u8]) -> Vec<u8> {
        let mut text = Vec::new();
        let mut inside = false;
        for &p in picks {
            let b = letters[p % letters.len()];
            match b {
                b'\\' if !inside => text.push(b'a'),
                b'\\' => {
                    text.push(b'\\');
                    text.push(letters[(p / 7) % letters.len()]);
                }
                b'"' => {
                    inside = !inside;
                    text.push(b'"');
                }
                _ => text.push(b),
            }
        }
        text
    }

    /// Where the container opening at byte 0 ends, by walking the bytes.
    fn walk_end(text: &[u8]) -> Option<usize> {
        let (mut depth, mut inside, mut escaped) = (0usize, false, false);
        for (i, &b) in text.iter().enumerate() {
            if escaped {
                escaped = false;
            } else if inside {
                match b {
                    b'\\' => escaped = true,
                    b'"' => inside = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => inside = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }

    proptest::proptest! {
        #[test]
        fn container_end_matches_a_byte_walk(
            picks in proptest::collection::vec(proptest::num::usize::ANY, 0..3000),
            alphabet in 0..4usize,
            open in proptest::sample::select(b"{[".to_vec()),
            shift in 0..70usize,
        ) {
            let rare = [&b"{[}]\"\""[..], &[b'a'; 300], b"\\"].concat();
            let letters: &[u8] = [
                &b"{}[]\"\\ax:,"[..],
                b"{{[[}]\"\\aaaaaaaaaaaa",
                b"{[}]\"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                &rare,
            ][alphabet];
            let mut text = vec![b' '; shift];
            text.push(open);
            text.extend(json_ish(&picks, letters));
            let expected = walk_end(&text[shift..]).map(|end| end + shift);
            let mut built = Structure::default();
            proptest::prop_assert!(built.index(&text).is_ok());
            proptest::prop_assert_eq!(built.container_end(shift), expected);
        }

        #[test]
        fn masks_match_a_byte_walk(
            picks in proptest::collection::vec(proptest::num::usize::ANY, 0..700),
            alphabet in 0..3usize,
        ) {
            let letters: &[u8] = [
                &b"{}[]\"\\ax"[..],
                b"\\\\\\\"aaaa{",
                b"\"aaaaaaaaaaaaaaaaaaaaaaaa[]{}\\",
            ][alphabet];
            check(&json_ish(&picks, letters));
            // Raw picks too: backslashes outside strings must be reported.
            let raw: Vec<u8> = picks.iter().map(|p| letters[p % letters.len()]).collect();
            check(&raw);
        }
    }
}
