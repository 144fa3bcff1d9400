//! Sample runs carried through the stages before the one a test is about.

use handoff_core::domain::RunRef;

use super::Harness;

impl Harness {
    /// [`Self::seed_sample_run`], then its context loaded and its AI step
    /// run: where the decide stage and the read API pick a run up.
    pub async fn seed_reasoned_run(&self, webhook_sample: &str) -> RunRef {
        let run = self.seed_sample_run(webhook_sample).await;
        self.context().run(&run).await.unwrap();
        self.reason().run(&run).await.unwrap();
        run
    }

    /// [`Self::seed_reasoned_run`], then decided: where the act stage and
    /// the approval callback pick a run up.
    pub async fn seed_decided_run(&self, webhook_sample: &str) -> RunRef {
        let run = self.seed_reasoned_run(webhook_sample).await;
        self.decide().run(&run).await.unwrap();
        run
    }
}
