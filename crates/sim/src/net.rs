//! The network between clients and the host: every request and reply is a message that
//! the schedule delivers, holds back, loses or lets overtake another.

use ballot_core::namespace::MonoTime;

use super::host::{Reply, Request};

/// What a message carries.
#[derive(Debug, Clone)]
pub enum Payload {
    /// A client's request to the host.
    ToHost {
        /// The sender.
        client: usize,
        /// The client's number for the request, echoed in the reply.
        id: u64,
        /// What it asks.
        request: Request,
    },
    /// The host's reply to a client.
    ToClient {
        /// The addressee.
        client: usize,
        /// The request's number.
        id: u64,
        /// The answer.
        reply: Reply,
    },
}

#[derive(Debug)]
struct Message {
    /// Order of sending.
    seq: u64,
    /// Not deliverable before.
    ready_at: MonoTime,
    payload: Payload,
}

/// The messages in flight.
#[derive(Debug, Default)]
pub struct Net {
    in_flight: Vec<Message>,
    next_seq: u64,
}

impl Net {
    /// Sends a message, deliverable from `now`.
    pub fn send(&mut self, now: MonoTime, payload: Payload) {
        self.next_seq += 1;
        self.in_flight.push(Message {
            seq: self.next_seq,
            ready_at: now,
            payload,
        });
    }

    /// Takes one deliverable message (ready, and not addressed to a client for which
    /// `asleep` holds): the `pick`-th of them. The flag says whether it overtook an
    /// earlier deliverable message, a reorder.
    pub fn deliver(
        &mut self,
        now: MonoTime,
        pick: u32,
        asleep: impl Fn(usize) -> bool,
    ) -> Option<(Payload, bool)> {
        let ready: Vec<usize> = (0..self.in_flight.len())
            .filter(|&i| {
                let m = &self.in_flight[i];
                m.ready_at <= now
                    && !matches!(m.payload, Payload::ToClient { client, .. } if asleep(client))
            })
            .collect();
        if ready.is_empty() {
            return None;
        }
        let chosen = ready[pick as usize % ready.len()];
        let oldest = ready
            .iter()
            .map(|&i| self.in_flight[i].seq)
            .min()
            .expect("not empty");
        let message = self.in_flight.remove(chosen);
        Some((message.payload, message.seq != oldest))
    }

    /// Loses the `pick`-th message in flight; false if there was none.
    pub fn lose(&mut self, pick: u32) -> bool {
        if self.in_flight.is_empty() {
            return false;
        }
        let index = pick as usize % self.in_flight.len();
        self.in_flight.remove(index);
        true
    }

    /// Holds the `pick`-th message in flight back until `until`; false if there was none.
    pub fn delay(&mut self, pick: u32, until: MonoTime) -> bool {
        if self.in_flight.is_empty() {
            return false;
        }
        let index = pick as usize % self.in_flight.len();
        let message = &mut self.in_flight[index];
        message.ready_at = message.ready_at.max(until);
        true
    }

    /// Drops every message in flight: the host crashed and every connection broke.
    pub fn reset(&mut self) {
        self.in_flight.clear();
    }

    /// Drops every message to or from the clients for which `broken` holds: their host
    /// died and their connections broke, the others' did not.
    pub fn reset_clients(&mut self, broken: impl Fn(usize) -> bool) {
        self.in_flight.retain(|m| {
            let (Payload::ToHost { client, .. } | Payload::ToClient { client, .. }) = m.payload;
            !broken(client)
        });
    }

    /// Messages in flight.
    pub fn len(&self) -> usize {
        self.in_flight.len()
    }

    /// True when nothing is in flight.
    pub fn is_empty(&self) -> bool {
        self.in_flight.is_empty()
    }
}
