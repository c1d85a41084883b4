//! The catalog's dependent actions by position: for each action, the positions of the actions a
//! call of it also needs ([`super::ActionInfo::dependent_actions`], resolved against the catalog).
//!
//! The minimizer asks for every used action of every principal. Reading the names from the
//! `ActionInfo` touched its cache line (80 bytes an action, in random order) for every used action,
//! though fewer than one action in ten has any, and then looked each name up; here a bit per action
//! (a few kilobytes, which stay in the cache) answers "none" for most, and the positions are
//! resolved once.

/// Dependent-action positions by catalog position.
#[derive(Debug)]
pub(super) struct Dependents {
    /// A bit per action: set when it has a dependent action the catalog knows.
    any: Box<[u64]>,
    /// For the actions with a bit set: where their positions start in `positions`, by the
    /// action's position (every action has an entry, plus one past the last).
    starts: Box<[u32]>,
    /// The positions, each action's in the order it lists them; names the catalog does not
    /// know are left out.
    positions: Box<[u32]>,
}

impl Dependents {
    /// Resolves the dependent actions of every action; `position` finds an action by name.
    pub(super) fn new<'a>(
        dependents: impl ExactSizeIterator<Item = &'a [Box<str>]>,
        position: impl Fn(&str) -> Option<usize>,
    ) -> Dependents {
        let count = dependents.len();
        let mut any = vec![0u64; count.div_ceil(64)];
        let mut starts = Vec::with_capacity(count + 1);
        let mut positions = Vec::new();
        for (i, names) in dependents.enumerate() {
            starts.push(positions.len() as u32);
            let before = positions.len();
            positions.extend(names.iter().filter_map(|n| position(n)).map(|p| p as u32));
            if positions.len() > before {
                any[i / 64] |= 1 << (i % 64);
            }
        }
        starts.push(positions.len() as u32);
        Dependents {
            any: any.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
            positions: positions.into_boxed_slice(),
        }
    }

    /// The positions of the dependent actions of the action at `position` that the catalog knows.
    #[inline]
    pub(super) fn of(&self, position: usize) -> &[u32] {
        if self.any[position / 64] & (1 << (position % 64)) == 0 {
            return &[];
        }
        &self.positions[self.starts[position] as usize..self.starts[position + 1] as usize]
    }
}
