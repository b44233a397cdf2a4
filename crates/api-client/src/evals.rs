//! Evaluation routes.

use caravan_api_types::AllocationListStub;
use caravan_structs::Evaluation;

use crate::{Call, Client, Error, Indexed, QueryOptions, paths};

/// `eval list`'s query: each empty (0) field is left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvalListQuery {
    /// Only this job's evaluations (`?job=`).
    pub job: String,
    /// Only evaluations in this status (`?status=`).
    pub status: String,
    /// A go-bexpr expression (`?filter=`).
    pub filter: String,
    /// At most this many (`?per_page=`).
    pub per_page: u32,
    /// Where the page starts (`?next_token=`).
    pub next_token: String,
}

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

    /// `GET /v1/evaluations` with `eval list`'s filters and page (`Indexed::next_token`
    /// is the next page's).
    pub async fn evaluation_list(
        &self,
        query: &EvalListQuery,
    ) -> Result<Indexed<Vec<Evaluation>>, Error> {
        let mut call = Call::get(paths::EVALUATIONS)
            .param_if_set("job", &query.job)
            .param_if_set("status", &query.status)
            .param_if_set("filter", &query.filter)
            .param_if_set("next_token", &query.next_token);
        if query.per_page > 0 {
            call = call.param("per_page", query.per_page);
        }
        self.read(call).await
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
