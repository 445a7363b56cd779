//! `ballot:election/log`: a guest's log lines, into the host's tracing output and the
//! runtime's log buffer, tagged with the deployment.

use crate::runtime::bindings::log_api::{self, Level};

use super::HostState;

impl log_api::Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let name = &self.identity.name;
        match level {
            Level::Trace => tracing::trace!(deployment = %name, "{message}"),
            Level::Debug => tracing::debug!(deployment = %name, "{message}"),
            Level::Info => tracing::info!(deployment = %name, "{message}"),
            Level::Warn => tracing::warn!(deployment = %name, "{message}"),
            Level::Error => tracing::error!(deployment = %name, "{message}"),
        }
        self.shared.record_log(name, &message);
        Ok(())
    }
}
