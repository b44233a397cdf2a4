//! The task's image: pulled when the daemon lacks it (or `force_pull`), with Nomad's
//! "Downloading image" event first; removed again once no container uses it
//! (`gc { image }`).

use std::time::Duration;

use bollard::Docker;
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, RemoveImageOptionsBuilder,
};
use futures::StreamExt;

use super::config::AuthBlock;
use crate::TaskLaunch;

/// Nomad's event message before a pull.
pub const DOWNLOADING: &str = "Downloading image";

/// `repo:tag` split as the pull API takes it; `latest` when no tag or digest is named.
pub fn repository_and_tag(image: &str) -> (&str, &str) {
    if let Some((repo, digest)) = image.split_once('@') {
        return (repo, digest);
    }
    match image.rsplit_once(':') {
        // A colon before the last `/` is a registry's port, not a tag.
        Some((repo, tag)) if !tag.contains('/') => (repo, tag),
        _ => (image, "latest"),
    }
}

/// Whether `image` is pulled even when the daemon has it (Nomad's rule: `force_pull`,
/// or a `latest` tag, written or implied).
pub fn always_pulled(image: &str, force_pull: bool) -> bool {
    force_pull || (!image.contains('@') && repository_and_tag(image).1 == "latest")
}

/// Makes sure the daemon has `image`: pulled when missing, or always
/// ([`always_pulled`]).
pub async fn ensure(
    docker: &Docker,
    launch: &TaskLaunch,
    image: &str,
    auth: Option<&AuthBlock>,
    force_pull: bool,
) -> Result<(), String> {
    if !always_pulled(image, force_pull) && docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    if let Some(events) = &launch.driver_events {
        let _ = events.send(DOWNLOADING.to_string());
    }
    let (repo, tag) = repository_and_tag(image);
    let options = CreateImageOptionsBuilder::default()
        .from_image(repo)
        .tag(tag)
        .build();
    let credentials = auth.map(|auth| DockerCredentials {
        username: Some(auth.username.clone()).filter(|s| !s.is_empty()),
        password: Some(auth.password.clone()).filter(|s| !s.is_empty()),
        email: Some(auth.email.clone()).filter(|s| !s.is_empty()),
        serveraddress: Some(auth.server_address.clone()).filter(|s| !s.is_empty()),
        ..DockerCredentials::default()
    });
    let mut pull = docker.create_image(Some(options), None, credentials);
    while let Some(progress) = pull.next().await {
        match progress {
            Ok(info) => {
                if let Some(error) = info.error_detail.and_then(|d| d.message) {
                    return Err(pull_failed(image, &error));
                }
            }
            Err(error) => return Err(pull_failed(image, &error.to_string())),
        }
    }
    Ok(())
}

/// Nomad's message for a failed pull.
fn pull_failed(image: &str, reason: &str) -> String {
    format!("Failed to pull `{image}`: {reason}")
}

/// Removes `image` after `delay` when no container (running or not) uses it then.
pub async fn remove_when_unused(docker: Docker, image: String, delay: Duration) {
    tokio::time::sleep(delay).await;
    let filters = std::collections::HashMap::from([("ancestor".to_string(), vec![image.clone()])]);
    let options = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    match docker.list_containers(Some(options)).await {
        Ok(users) if users.is_empty() => {}
        Ok(_) => return,
        Err(error) => {
            tracing::debug!(%error, %image, "docker: cannot tell whether the image is in use");
            return;
        }
    }
    let options = RemoveImageOptionsBuilder::default().build();
    if let Err(error) = docker.remove_image(&image, Some(options), None).await {
        tracing::debug!(%error, %image, "docker: image not removed");
    }
}
