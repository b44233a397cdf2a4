//! Evaluation routes.

use caravan_api_types::AllocationListStub;
use caravan_structs::Evaluation;

use crate::{Call, Client, Error, Indexed, QueryOptions, paths};

impl Client {
    /// `GET /v1/evaluations[?prefix=]`.
    pub async fn evaluations(&self, prefix: &str) -> Result<Indexed<Vec<Evaluation>>, Error> {
        self.read(
            Call::get(paths::EVALUATIONS)
                .param_if_set("prefix", prefix)
                .param_if_set("namespace", self.search_namespace()),
        )
        .await
    }

    /// `GET /v1/evaluation/:id`, a blocking query with `options`.
    pub async fn evaluation(
        &self,
        id: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Evaluation>, Error> {
        self.read(Call::get(paths::evaluation(id)).blocking(options))
            .await
    }

    /// `GET /v1/evaluation/:id/allocations`.
    pub async fn evaluation_allocations(
        &self,
        id: &str,
    ) -> Result<Indexed<Vec<AllocationListStub>>, Error> {
        self.read(Call::get(paths::evaluation_allocations(id)))
            .await
    }
}
