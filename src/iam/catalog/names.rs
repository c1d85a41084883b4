//! The catalog's name index: the position of an action by its name in any ASCII case.
//!
//! Laid out for the minimizer and `scan`, which look up every literal action of every policy and
//! every used action name, hundreds of thousands of them in random catalog order: a lookup reads
//! one 8-byte slot of an open-addressed table, then one record of a contiguous buffer holding the
//! candidate's position, length and name together. A general hash map of positions, checked
//! against `ActionInfo::name`, touched four unrelated cache lines a lookup (control bytes, bucket,
//! the `ActionInfo`, its boxed name), and missed the cache on most of them once the rest of a run
//! had evicted the catalog; a separate table of where each name starts was a third dependent miss.
//!
//! It owns the case-insensitive name hash too, and nothing else: [`super::Catalog`] builds the
//! index on first use and answers with it.

/// A hash of `name` that ignores ASCII case (no lower-cased copy is made).
///
/// Eight bytes at a time, lower-cased in a register ([`ascii_lower_word`]): `scan` looks up every
/// literal action of every principal's policies (a million on a 100 MB plan), and hashing a byte
/// at a time through a `Hasher` was most of that cost. Equal names in any ASCII case hash equal;
/// [`NameIndex`] settles collisions by comparing names.
#[inline]
pub(super) fn caseless_hash(name: &str) -> u64 {
    // The multiplier of rustc-hash / FxHash; the finish is murmur3's 64-bit mix, so the bits the
    // table uses (low for the bucket, high for the tag) all depend on every input byte.
    const K: u64 = 0xf135_7aea_2e62_a9c5;
    let bytes = name.as_bytes();
    let mut h = bytes.len() as u64;
    let mut words = bytes.chunks_exact(8);
    let mut mix = |w: u64| h = (h ^ ascii_lower_word(w)).wrapping_mul(K).rotate_left(26);
    for chunk in &mut words {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        mix(u64::from_le_bytes(word));
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut word = [0u8; 8];
        word[..rest.len()].copy_from_slice(rest);
        mix(u64::from_le_bytes(word));
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h
}

/// `w` with its ASCII upper-case letter bytes lower-cased (the others unchanged), eight at once.
pub(super) fn ascii_lower_word(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Each byte's low seven bits plus an offset sets the byte's high bit exactly when it is at least
    // `A` (or past `Z`); no carry crosses bytes, since 0x7f + 0x3f < 0x100.
    let low7 = w & (0x7f * ONES);
    let at_least_a = low7 + (0x80 - u64::from(b'A')) * ONES;
    let past_z = low7 + (0x80 - u64::from(b'Z') - 1) * ONES;
    // Bytes with their own high bit set are not ASCII: never changed.
    let upper = at_least_a & !past_z & !w & (0x80 * ONES);
    w | (upper >> 2)
}

/// A slot of [`NameIndex::slots`]: the high half of the name's hash and where its record starts
/// in [`NameIndex::records`].
#[derive(Clone, Copy)]
struct Slot {
    tag: u32,
    record: u32,
}

/// Names [`NameIndex::each_position`] looks up together.
const BATCH: usize = 16;

/// The record offset stored in an empty slot.
const EMPTY: u32 = u32::MAX;

/// Bytes before a record's name: its catalog position and its length, both `u32` little-endian.
const HEADER: usize = 8;

/// Catalog positions by case-insensitive name.
pub(super) struct NameIndex {
    /// Open addressing with linear probing; a power of two at least twice the name count, so
    /// probes stay short and a missing name soon meets an empty slot.
    slots: Box<[Slot]>,
    /// One record per name, in position order, back to back: position, length, then the name's
    /// bytes. A slot leads straight to its record, so a look-up that misses the cache waits for
    /// two lines (the slot's, the record's), not three.
    records: Box<[u8]>,
    /// Number of names.
    len: usize,
}

impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NameIndex")
            .field("names", &self.len)
            .field("slots", &self.slots.len())
            .finish()
    }
}

impl NameIndex {
    /// Indexes `names` (position order). Names equal ignoring case must not repeat (the catalog
    /// refuses them).
    pub(super) fn new<'a>(names: impl ExactSizeIterator<Item = &'a str> + Clone) -> NameIndex {
        NameIndex::with_hash(names, caseless_hash)
    }

    /// [`NameIndex::new`] under `hash`, which must hash names equal ignoring ASCII case to the
    /// same value; lookups then go through [`NameIndex::find`] with the same hash. Tests force
    /// collisions with it.
    fn with_hash<'a>(
        names: impl ExactSizeIterator<Item = &'a str> + Clone,
        hash: fn(&str) -> u64,
    ) -> NameIndex {
        let count = names.len();
        let len = (count * 2).next_power_of_two().max(8);
        let mask = len - 1;
        let mut slots = vec![
            Slot {
                tag: 0,
                record: EMPTY,
            };
            len
        ];
        let mut records =
            Vec::with_capacity(names.clone().map(|n| HEADER + n.len()).sum::<usize>());
        for (position, name) in names.enumerate() {
            let record = u32::try_from(records.len()).expect("catalog names fit in 4 GB");
            records.extend_from_slice(&(position as u32).to_le_bytes());
            records.extend_from_slice(&(name.len() as u32).to_le_bytes());
            records.extend_from_slice(name.as_bytes());
            let h = hash(name);
            let mut i = h as usize & mask;
            while slots[i].record != EMPTY {
                i = (i + 1) & mask;
            }
            slots[i] = Slot {
                tag: (h >> 32) as u32,
                record,
            };
        }
        NameIndex {
            slots: slots.into_boxed_slice(),
            records: records.into_boxed_slice(),
            len: count,
        }
    }

    /// The position of `name` (any ASCII case), or `None`.
    #[inline]
    pub(super) fn position(&self, name: &str) -> Option<usize> {
        self.find(name, caseless_hash(name))
    }

    /// The position of each item's name (`name` reads it), in order, given to `f` with the item.
    ///
    /// In batches of [`BATCH`]: every name of a batch is hashed and its first slot loaded before
    /// any is compared. Those loads do not depend on one another, so when they miss the cache
    /// they are waited for together; one name at a time, each waited for its slot, then its
    /// record, before the next could start.
    pub(super) fn each_position<T: Copy>(
        &self,
        items: impl IntoIterator<Item = T>,
        name: impl Fn(&T) -> &str,
        f: impl FnMut(T, Option<usize>),
    ) {
        self.each_position_under(caseless_hash, items, name, f);
    }

    /// [`NameIndex::each_position`] under the index's `hash` (see [`NameIndex::with_hash`]).
    fn each_position_under<T: Copy>(
        &self,
        hash: impl Fn(&str) -> u64,
        items: impl IntoIterator<Item = T>,
        name: impl Fn(&T) -> &str,
        mut f: impl FnMut(T, Option<usize>),
    ) {
        let mask = self.slots.len() - 1;
        let mut items = items.into_iter();
        loop {
            let mut batch: [Option<(T, u64, Slot)>; BATCH] = [None; BATCH];
            let mut n = 0;
            for item in items.by_ref().take(BATCH) {
                let h = hash(name(&item));
                batch[n] = Some((item, h, self.slots[h as usize & mask]));
                n += 1;
            }
            for (item, h, slot) in batch[..n].iter().flatten().copied() {
                f(item, self.find_from(name(&item), h, slot));
            }
            if n < BATCH {
                return;
            }
        }
    }

    /// The position of `name`, whose hash under the index's hash is `h`.
    #[inline]
    fn find(&self, name: &str, h: u64) -> Option<usize> {
        self.find_from(name, h, self.slots[h as usize & (self.slots.len() - 1)])
    }

    /// [`NameIndex::find`] with the first slot of the probe already loaded.
    #[inline]
    fn find_from(&self, name: &str, h: u64, first: Slot) -> Option<usize> {
        let tag = (h >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        let mut slot = first;
        loop {
            if slot.record == EMPTY {
                return None;
            }
            if slot.tag == tag {
                let (position, candidate) = self.record(slot.record);
                if candidate.eq_ignore_ascii_case(name.as_bytes()) {
                    return Some(position as usize);
                }
            }
            i = (i + 1) & mask;
            slot = self.slots[i];
        }
    }

    /// The position and name bytes of the record at `offset`.
    #[inline]
    fn record(&self, offset: u32) -> (u32, &[u8]) {
        let at = offset as usize;
        let word = |i: usize| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&self.records[i..i + 4]);
            u32::from_le_bytes(b)
        };
        let (position, len) = (word(at), word(at + 4) as usize);
        (position, &self.records[at + HEADER..at + HEADER + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 6] = [
        "s3:GetObject",
        "s3:GetObjectAcl",
        "ec2:DescribeInstances",
        "iam:PassRole",
        "a:B",
        "logs:CreateLogStream",
    ];

    /// Every name found in any case under `hash`, and nothing else.
    fn check(hash: fn(&str) -> u64) {
        let index = NameIndex::with_hash(NAMES.iter().copied(), hash);
        let find = |name: &str| index.find(name, hash(name));
        for (i, name) in NAMES.iter().enumerate() {
            assert_eq!(find(name), Some(i), "{name}");
            assert_eq!(find(&name.to_ascii_uppercase()), Some(i));
            assert_eq!(find(&name.to_ascii_lowercase()), Some(i));
        }
        for missing in ["s3:GetObjec", "s3:GetObjectX", "", "a:C", "iam:PassRole "] {
            assert_eq!(find(missing), None, "{missing}");
        }
    }

    /// Names looked up in batches (more than one batch, a partial last one, repeats, misses,
    /// colliding hashes) get the positions looked up one at a time, in order.
    #[test]
    fn batched_lookups_equal_single_ones_in_order() {
        let index = NameIndex::new(NAMES.iter().copied());
        let collide = |n: &str| (n.len() % 3) as u64 + 14;
        let colliding = NameIndex::with_hash(NAMES.iter().copied(), collide);
        let mut asked: Vec<String> = Vec::new();
        for round in 0..7 {
            for name in NAMES {
                asked.push(if round % 2 == 0 {
                    name.to_ascii_uppercase()
                } else {
                    name.to_string()
                });
            }
            asked.push(format!("missing:Name{round}"));
        }
        assert!(asked.len() > 2 * BATCH && asked.len() % BATCH != 0);
        for n in [0, 1, BATCH - 1, BATCH, BATCH + 1, asked.len()] {
            let mut got = Vec::new();
            index.each_position(
                asked[..n].iter().enumerate(),
                |(_, a)| a,
                |(i, _), p| got.push((i, p)),
            );
            let want: Vec<(usize, Option<usize>)> = asked[..n]
                .iter()
                .enumerate()
                .map(|(i, a)| (i, index.position(a)))
                .collect();
            assert_eq!(got, want, "first {n}");
            assert!(want.iter().any(|(_, p)| p.is_some()) || n == 0);
        }
        // Under one probe chain every batched answer must still come from comparing names.
        let mut got = Vec::new();
        colliding.each_position_under(
            collide,
            asked.iter(),
            |a| a,
            |a, p| got.push((a.clone(), p)),
        );
        assert_eq!(got.len(), asked.len());
        for (a, p) in got {
            assert_eq!(p, colliding.find(&a, collide(&a)), "{a}");
            assert_eq!(p, index.position(&a), "{a}");
        }
    }

    #[test]
    fn finds_every_name_in_any_case_and_nothing_else() {
        check(caseless_hash);
        let index = NameIndex::new(NAMES.iter().copied());
        assert_eq!(index.position("S3:GETOBJECTACL"), Some(1));
        assert_eq!(index.position("s3:GetObjectAc"), None);
    }

    /// Every name in one probe chain: a lookup must walk past the other names' slots, tags
    /// equal, and still tell the names apart by their bytes.
    #[test]
    fn colliding_hashes_are_told_apart_by_name() {
        check(|_| 0);
        // Equal tags, different start slots: chains that run into each other and wrap around.
        check(|n| (n.len() % 3) as u64 + 14);
    }
}
