//! Deployment routes: list, read, a deployment's allocations, the operator's actions on
//! one (promote, pause/resume, fail, unblock), and a job's deployments.

use caravan_api_types::{AllocationListStub, DeploymentPauseRequest, DeploymentPromoteRequest};
use caravan_structs::{Deployment, DeploymentUpdateResponse};

use crate::{Call, Client, Error, Indexed, Method, QueryOptions, paths};

impl Client {
    /// `GET /v1/deployments[?prefix=]`, oldest first.
    pub async fn deployments(&self, prefix: &str) -> Result<Indexed<Vec<Deployment>>, Error> {
        self.read(Call::get(paths::DEPLOYMENTS).param_if_set("prefix", prefix))
            .await
    }

    /// `GET /v1/deployment/:id`, a blocking query with `options`.
    pub async fn deployment(
        &self,
        id: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Deployment>, Error> {
        self.read(Call::get(paths::deployment(id)).blocking(options))
            .await
    }

    /// `GET /v1/deployment/allocations/:id`.
    pub async fn deployment_allocations(
        &self,
        id: &str,
    ) -> Result<Indexed<Vec<AllocationListStub>>, Error> {
        self.read(Call::get(paths::deployment_action("allocations", id)))
            .await
    }

    /// `POST /v1/deployment/promote/:id`: every group's canaries when `groups` is
    /// empty, else those of `groups`.
    pub async fn promote_deployment(
        &self,
        id: &str,
        groups: &[String],
    ) -> Result<DeploymentUpdateResponse, Error> {
        let request = DeploymentPromoteRequest {
            deployment_id: id.into(),
            all: groups.is_empty(),
            groups: (!groups.is_empty()).then(|| groups.to_vec()),
        };
        let call =
            Call::new(Method::Post, paths::deployment_action("promote", id)).json(&request)?;
        self.write(call).await
    }

    /// `POST /v1/deployment/pause/:id`: pauses (`pause`) or resumes a deployment.
    pub async fn pause_deployment(
        &self,
        id: &str,
        pause: bool,
    ) -> Result<DeploymentUpdateResponse, Error> {
        let request = DeploymentPauseRequest {
            deployment_id: id.into(),
            pause,
        };
        let call = Call::new(Method::Post, paths::deployment_action("pause", id)).json(&request)?;
        self.write(call).await
    }

    /// `POST /v1/deployment/fail/:id`.
    pub async fn fail_deployment(&self, id: &str) -> Result<DeploymentUpdateResponse, Error> {
        let call = Call::new(Method::Post, paths::deployment_action("fail", id))
            .json(&serde_json::json!({ "DeploymentID": id }))?;
        self.write(call).await
    }

    /// `POST /v1/deployment/unblock/:id`.
    pub async fn unblock_deployment(&self, id: &str) -> Result<DeploymentUpdateResponse, Error> {
        let call = Call::new(Method::Post, paths::deployment_action("unblock", id))
            .json(&serde_json::json!({ "DeploymentID": id }))?;
        self.write(call).await
    }

    /// `GET /v1/job/:id/deployments[?all=true]`, newest first (`all`: those of an
    /// older, purged job of the same ID too).
    pub async fn job_deployments(
        &self,
        id: &str,
        all: bool,
    ) -> Result<Indexed<Vec<Deployment>>, Error> {
        self.read(Call::get(paths::job_deployments(id)).flag("all", all))
            .await
    }

    /// `GET /v1/job/:id/deployment`: the job's newest deployment, `None` when it has
    /// none.
    pub async fn job_latest_deployment(
        &self,
        id: &str,
    ) -> Result<Indexed<Option<Deployment>>, Error> {
        self.read(Call::get(paths::job_latest_deployment(id))).await
    }
}
