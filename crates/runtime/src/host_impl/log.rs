//! `ballot:election/log`: a guest's log lines, into the host's tracing output and the
//! runtime's log buffer, tagged with the deployment.

use crate::bindings::log_api::{self, Level};

use super::HostState;

impl log_api::Host for HostState {
    async fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        // Logging changes nothing, so a revoked instance may still say what happened to
        // it, and it is not charged to the call quota (a guest must be able to say why
        // it is throttled). Its bytes are charged to the bytes quota like written data,
        // so a guest logging in a loop is held to that rate (lines over it are dropped);
        // each line is cut to MAX_LINE bytes and the runtime keeps a bounded amount of
        // them per deployment.
        let message = truncate(message);
        if !self.quota.charge_log(&message) {
            self.shared.note_dropped_log();
            return Ok(());
        }
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

/// The longest log line kept, in bytes.
const MAX_LINE: usize = 4096;

pub(super) fn truncate(mut message: String) -> String {
    if message.len() > MAX_LINE {
        let mut end = MAX_LINE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}
