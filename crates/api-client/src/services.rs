//! Nomad's service catalogue: list, read, delete.

use std::collections::BTreeMap;

use caravan_api_types::CheckQueryResult;
use caravan_structs::{ServiceRegistration, ServiceRegistrationListStub};

use crate::{Call, Client, Error, Indexed, Method, QueryOptions, paths};

impl Client {
    /// `GET /v1/services`: the services of the configured namespace (`*`: all).
    pub async fn services(&self) -> Result<Indexed<Vec<ServiceRegistrationListStub>>, Error> {
        self.read(Call::get(paths::SERVICES)).await
    }

    /// `GET /v1/service/:name`, a blocking query with `options`.
    pub async fn service(
        &self,
        name: &str,
        options: QueryOptions,
    ) -> Result<Indexed<Vec<ServiceRegistration>>, Error> {
        self.read(Call::get(paths::service(name)).blocking(options))
            .await
    }

    /// `DELETE /v1/service/:name/:id`.
    pub async fn delete_service(&self, name: &str, id: &str) -> Result<(), Error> {
        self.send(Call::new(
            Method::Delete,
            paths::service_registration(name, id),
        ))
        .await
        .map(drop)
    }

    /// `GET /v1/client/allocation/:id/checks`: the latest result of each check.
    pub async fn allocation_checks(
        &self,
        id: &str,
    ) -> Result<BTreeMap<String, CheckQueryResult>, Error> {
        self.read(Call::get(paths::allocation_checks(id)))
            .await
            .map(|read| read.value)
    }
}
