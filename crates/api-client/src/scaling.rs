//! Scaling routes: a job's scale status, `job scale`, the scaling policies; and
//! `job eval`, which asks the scheduler to look at a job again.

use caravan_api_types::{
    JobEvaluateRequest, JobRegisterResponse, JobScaleRequest, JobScaleStatus, ScalingPolicyListStub,
};
use caravan_structs::ScalingPolicy;

use crate::{Call, Client, Error, Indexed, Method, paths};

impl Client {
    /// `GET /v1/job/:id/scale`.
    pub async fn job_scale_status(&self, id: &str) -> Result<Indexed<JobScaleStatus>, Error> {
        self.read(Call::get(paths::job_scale(id))).await
    }

    /// `POST /v1/job/:id/scale`: a group's new count, or only a scaling event.
    pub async fn scale_job(
        &self,
        id: &str,
        request: &JobScaleRequest,
    ) -> Result<JobRegisterResponse, Error> {
        self.write(Call::new(Method::Post, paths::job_scale(id)).json(request)?)
            .await
    }

    /// `POST /v1/job/:id/evaluate`: an evaluation of the job, now.
    pub async fn evaluate_job(
        &self,
        id: &str,
        request: &JobEvaluateRequest,
    ) -> Result<JobRegisterResponse, Error> {
        self.write(Call::new(Method::Post, paths::job_evaluate(id)).json(request)?)
            .await
    }

    /// `GET /v1/scaling/policies[?job=][&type=][&prefix=]`.
    pub async fn scaling_policies(
        &self,
        job: &str,
        policy_type: &str,
        prefix: &str,
    ) -> Result<Indexed<Vec<ScalingPolicyListStub>>, Error> {
        let call = Call::get(paths::SCALING_POLICIES)
            .param_if_set("job", job)
            .param_if_set("type", policy_type)
            .param_if_set("prefix", prefix);
        self.read(call).await
    }

    /// `GET /v1/scaling/policy/:id`.
    pub async fn scaling_policy(&self, id: &str) -> Result<Indexed<ScalingPolicy>, Error> {
        self.read(Call::get(paths::scaling_policy(id))).await
    }
}
