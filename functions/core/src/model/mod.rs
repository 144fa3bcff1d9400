//! The AI step's model side that needs no cloud: the configured tiers by
//! name, the embedded tier, and the provider-neutral prompt.

mod embedded;
mod prompt;
mod shown;
mod tiers;

pub use embedded::{load_encoder, EmbeddedModel};
pub use handoff_embedded::encoder;
pub use prompt::{build_prompt, mask_answer, BuiltPrompt, PromptInput, Redactor};
pub use shown::{show_document, ShownDocuments, MAX_PAGES_SHOWN};
pub use tiers::{Tier, Tiers};
