//! ACL routes (bootstrap, policies, tokens) and namespaces.

use caravan_structs::acl::{AclPolicy, AclPolicyStub, AclToken, AclTokenStub, Namespace};

use crate::escape::path_escape;
use crate::{Call, Client, Error, Method};

impl Client {
    /// `POST /v1/acl/bootstrap`: the first management token.
    pub async fn acl_bootstrap(&self) -> Result<AclToken, Error> {
        self.write(Call::new(Method::Post, "/v1/acl/bootstrap"))
            .await
    }

    /// `GET /v1/acl/policies`.
    pub async fn acl_policies(&self) -> Result<Vec<AclPolicyStub>, Error> {
        self.write(Call::get("/v1/acl/policies")).await
    }

    /// `GET /v1/acl/policy/:name`.
    pub async fn acl_policy(&self, name: &str) -> Result<AclPolicy, Error> {
        self.write(Call::get(format!("/v1/acl/policy/{}", path_escape(name))))
            .await
    }

    /// `POST /v1/acl/policy/:name`: create or replace.
    pub async fn acl_policy_upsert(&self, policy: &AclPolicy) -> Result<(), Error> {
        let path = format!("/v1/acl/policy/{}", path_escape(&policy.name));
        self.send(Call::new(Method::Post, path).json(policy)?)
            .await
            .map(drop)
    }

    /// `DELETE /v1/acl/policy/:name`.
    pub async fn acl_policy_delete(&self, name: &str) -> Result<(), Error> {
        let path = format!("/v1/acl/policy/{}", path_escape(name));
        self.send(Call::new(Method::Delete, path)).await.map(drop)
    }

    /// `GET /v1/acl/tokens`.
    pub async fn acl_tokens(&self) -> Result<Vec<AclTokenStub>, Error> {
        self.write(Call::get("/v1/acl/tokens")).await
    }

    /// `GET /v1/acl/token/:accessor`.
    pub async fn acl_token(&self, accessor: &str) -> Result<AclToken, Error> {
        self.write(Call::get(format!(
            "/v1/acl/token/{}",
            path_escape(accessor)
        )))
        .await
    }

    /// `GET /v1/acl/token/self`.
    pub async fn acl_token_self(&self) -> Result<AclToken, Error> {
        self.write(Call::get("/v1/acl/token/self")).await
    }

    /// `POST /v1/acl/token`: create.
    pub async fn acl_token_create(&self, token: &AclToken) -> Result<AclToken, Error> {
        self.write(Call::new(Method::Post, "/v1/acl/token").json(token)?)
            .await
    }

    /// `POST /v1/acl/token/:accessor`: update.
    pub async fn acl_token_update(&self, token: &AclToken) -> Result<AclToken, Error> {
        let path = format!("/v1/acl/token/{}", path_escape(&token.accessor_id));
        self.write(Call::new(Method::Post, path).json(token)?).await
    }

    /// `DELETE /v1/acl/token/:accessor`.
    pub async fn acl_token_delete(&self, accessor: &str) -> Result<(), Error> {
        let path = format!("/v1/acl/token/{}", path_escape(accessor));
        self.send(Call::new(Method::Delete, path)).await.map(drop)
    }

    /// `GET /v1/namespaces[?prefix=]`.
    pub async fn namespaces(&self, prefix: &str) -> Result<Vec<Namespace>, Error> {
        self.write(Call::get("/v1/namespaces").param_if_set("prefix", prefix))
            .await
    }

    /// `GET /v1/namespace/:name`.
    pub async fn namespace(&self, name: &str) -> Result<Namespace, Error> {
        self.write(Call::get(format!("/v1/namespace/{}", path_escape(name))))
            .await
    }

    /// `POST /v1/namespace/:name`: create or update.
    pub async fn namespace_upsert(&self, namespace: &Namespace) -> Result<(), Error> {
        let path = format!("/v1/namespace/{}", path_escape(&namespace.name));
        self.send(Call::new(Method::Post, path).json(namespace)?)
            .await
            .map(drop)
    }

    /// `DELETE /v1/namespace/:name`.
    pub async fn namespace_delete(&self, name: &str) -> Result<(), Error> {
        let path = format!("/v1/namespace/{}", path_escape(name));
        self.send(Call::new(Method::Delete, path)).await.map(drop)
    }
}
