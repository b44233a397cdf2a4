//! A streamed answer: logs and files, read chunk by chunk as the agent sends them.

use bytes::Bytes;

use crate::Error;

/// The body of a streamed answer (`/v1/client/fs/logs`, `/cat`, `/stream`).
#[derive(Debug)]
pub struct Body {
    response: reqwest::Response,
}

impl Body {
    pub(crate) fn new(response: reqwest::Response) -> Body {
        Body { response }
    }

    /// The next chunk, `None` at the end. A followed log never ends on its own.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Error> {
        self.response
            .chunk()
            .await
            .map_err(|e| Error::Read(e.to_string()))
    }
}
