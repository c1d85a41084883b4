//! Discovery: from a parsed plan to every principal and the policies that reach it.
//!
//! Three steps, one module each. [`index`] gathers each IAM resource instance once with its
//! configuration block ([`PlanIndex`]). Each resource type's handler (see
//! [`crate::iam::resources`]) turns instances into [`facts`]: principals, policy documents, managed
//! policies and links, following configuration references with [`mod@reference`]. [`mod@resolve`] then
//! joins the links, by value where the plan knows it and through configuration references where it
//! does not.
//!
//! Imports run one way: `resources` reads `index`, `facts` and `reference`; `resolve` reads `facts`;
//! only this file, which runs the steps, sees them all. Address and ARN text helpers live below in
//! [`crate::iam::address`] and [`crate::iam::arn`]; they are re-exported here under their old paths.

pub mod facts;
pub mod index;
pub mod marks;
pub mod reference;
pub mod resolve;

pub use crate::iam::address::strip_instance_keys;
pub use crate::iam::arn::{account_of, is_aws_managed};
pub use facts::{
    AttachmentFact, Claim, ClaimFact, DocumentFact, Facts, InlineFact, ManagedPolicyFact,
    MembershipFact, OutsideFact, OutsidePolicy, PolicyRef, PrincipalFact, PrincipalRef,
};
pub use index::{Instance, Malformed, PlanIndex};
pub use marks::{Marks, Step};
pub use reference::{references_variable, resolve_reference};
pub use resolve::{Discovery, resolve};

use crate::iam::catalog::Catalog;
use crate::iam::resources;
use crate::plan::model::{Mode, Plan};
use rayon::prelude::*;

/// Finds every principal in a plan and the policies that reach it.
pub fn discover(plan: &Plan) -> Discovery {
    let mut index = PlanIndex::build(plan);
    // Policy documents first: other handlers look them up by address.
    let documents = run_handlers(&index, true);
    index.documents = documents.documents;
    let mut facts = run_handlers(&index, false);
    facts.warnings.splice(0..0, documents.warnings);
    // The facts own what they need: the index (thousands of small allocations) is freed meanwhile.
    // The join runs mostly on one thread, so the other also decodes the action catalog, which every
    // command needs next (granted counts, minimizing) and would otherwise decode alone.
    rayon::join(
        || resolve(facts),
        move || {
            drop(index);
            let _ = Catalog::try_embedded();
        },
    )
    .0
}

/// Runs the handlers of the data sources (`data`) or of the managed resources, in parallel: a handler
/// reads its instance and the index and only adds facts, so each chunk of instances gets its own
/// [`Facts`], merged in plan order (a later insert into a map wins, as when run one by one).
fn run_handlers(index: &PlanIndex<'_>, data: bool) -> Facts {
    index
        .instances
        .par_iter()
        .filter(|inst| (inst.mode == Mode::Data) == data)
        .fold(Facts::default, |mut facts, inst| {
            if let Some(handler) = resources::handler_for(inst.mode, inst.resource_type) {
                handler(inst, index, &mut facts);
            }
            facts
        })
        .reduce(Facts::default, Facts::append)
}
