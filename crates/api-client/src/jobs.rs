//! Job routes: list, read, register, plan, validate, stop, revert, dispatch, periodic
//! force, versions, summary, the job's allocations and evaluations, and parse.

use caravan_api_types::{
    AllocationListStub, JobDeregisterResponse, JobDispatchRequest, JobDispatchResponse,
    JobListStub, JobPlanRequest, JobPlanResponse, JobRegisterRequest, JobRegisterResponse,
    JobRevertRequest, JobValidateRequest, JobValidateResponse, JobVersionsResponse,
    JobsParseRequest, PeriodicForceResponse,
};
use caravan_structs::{Evaluation, Job, JobSummary};

use crate::{Call, Client, Error, Indexed, Method, paths};

impl Client {
    /// `GET /v1/jobs[?prefix=]`: the jobs whose ID starts with `prefix` (all when empty).
    pub async fn jobs(&self, prefix: &str) -> Result<Indexed<Vec<JobListStub>>, Error> {
        self.read(Call::get(paths::JOBS).param_if_set("prefix", prefix))
            .await
    }

    /// `GET /v1/job/:id`.
    pub async fn job(&self, id: &str) -> Result<Indexed<Job>, Error> {
        self.read(Call::get(paths::job(id))).await
    }

    /// `POST /v1/jobs`: registers (or updates) a job.
    pub async fn register_job(
        &self,
        request: &JobRegisterRequest,
    ) -> Result<JobRegisterResponse, Error> {
        self.write(Call::new(Method::Post, paths::JOBS).json(request)?)
            .await
    }

    /// `PUT /v1/job/:id/plan`: what registering the job would change.
    pub async fn plan_job(
        &self,
        id: &str,
        request: &JobPlanRequest,
    ) -> Result<JobPlanResponse, Error> {
        self.write(Call::new(Method::Put, paths::job_plan(id)).json(request)?)
            .await
    }

    /// `PUT /v1/validate/job`: registration's checks, nothing stored.
    pub async fn validate_job(
        &self,
        request: &JobValidateRequest,
    ) -> Result<JobValidateResponse, Error> {
        self.write(Call::new(Method::Put, paths::VALIDATE_JOB).json(request)?)
            .await
    }

    /// `DELETE /v1/job/:id[?purge=true][&global=true]`: stops (or purges) a job.
    pub async fn deregister_job(
        &self,
        id: &str,
        purge: bool,
        global: bool,
    ) -> Result<JobDeregisterResponse, Error> {
        let call = Call::new(Method::Delete, paths::job(id))
            .flag("purge", purge)
            .flag("global", global);
        self.write(call).await
    }

    /// `GET /v1/job/:id/versions[?diffs=true]`.
    pub async fn job_versions(
        &self,
        id: &str,
        diffs: bool,
    ) -> Result<Indexed<JobVersionsResponse>, Error> {
        self.read(Call::get(paths::job_versions(id)).flag("diffs", diffs))
            .await
    }

    /// `POST /v1/job/:id/revert`: registers a stored version again.
    pub async fn revert_job(
        &self,
        id: &str,
        request: &JobRevertRequest,
    ) -> Result<JobRegisterResponse, Error> {
        self.write(Call::new(Method::Post, paths::job_revert(id)).json(request)?)
            .await
    }

    /// `POST /v1/job/:id/dispatch[?idempotency_token=]`: launches a child of a
    /// parameterized job.
    pub async fn dispatch_job(
        &self,
        id: &str,
        request: &JobDispatchRequest,
        idempotency_token: &str,
    ) -> Result<JobDispatchResponse, Error> {
        let call = Call::new(Method::Post, paths::job_dispatch(id))
            .param_if_set("idempotency_token", idempotency_token)
            .json(request)?;
        self.write(call).await
    }

    /// `POST /v1/job/:id/periodic/force`: launches a periodic job's child now.
    pub async fn force_periodic(&self, id: &str) -> Result<PeriodicForceResponse, Error> {
        let call =
            Call::new(Method::Post, paths::job_periodic_force(id)).json(&serde_json::json!({}))?;
        self.write(call).await
    }

    /// `GET /v1/job/:id/summary`.
    pub async fn job_summary(&self, id: &str) -> Result<Indexed<JobSummary>, Error> {
        self.read(Call::get(paths::job_summary(id))).await
    }

    /// `GET /v1/job/:id/allocations[?all=true]` (`all`: those of an older, purged job
    /// of the same ID too).
    pub async fn job_allocations(
        &self,
        id: &str,
        all: bool,
    ) -> Result<Indexed<Vec<AllocationListStub>>, Error> {
        self.read(Call::get(paths::job_allocations(id)).flag("all", all))
            .await
    }

    /// `GET /v1/job/:id/evaluations`.
    pub async fn job_evaluations(&self, id: &str) -> Result<Indexed<Vec<Evaluation>>, Error> {
        self.read(Call::get(paths::job_evaluations(id))).await
    }

    /// `POST /v1/jobs/parse`: a job file's HCL as the job.
    pub async fn parse_job(&self, request: &JobsParseRequest) -> Result<Job, Error> {
        self.write(Call::new(Method::Post, paths::JOBS_PARSE).json(request)?)
            .await
    }
}
