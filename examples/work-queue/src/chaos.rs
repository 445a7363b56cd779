//! The killer: finds the lease's master and kills its instance, at random moments, half
//! of the time waiting for it to be in the middle of a claim first.

use std::time::{Duration, Instant};

use ballot_core::election::{Elections, LeaseHolder};
use ballot_core::namespace::{NodePath, SessionId, State};
use ballot_runtime::{DeploymentId, Runtime};
use rand::RngExt;
use rand::rngs::Xoshiro256PlusPlus;

use crate::queue::{self, Item};
use crate::{Config, deployment_on};

/// How many kills there were, and how many landed between a claim and its completion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kills {
    /// Masters killed.
    pub total: usize,
    /// Of those, killed while holding a claimed, uncompleted item.
    pub mid_claim: usize,
    /// The items whose claim a kill cut short, with the killed peer.
    pub cut_short: Vec<(String, String)>,
}

/// How long a targeted kill waits for its master to be mid-claim before it kills anyway.
const TARGET_PATIENCE: Duration = Duration::from_millis(300);

/// Kills up to `config.kills` masters, stopping early once every item is done or the
/// deadline passes.
pub async fn kill_masters(
    rt: &Runtime,
    workers: &[DeploymentId],
    config: &Config,
    rng: &mut Xoshiro256PlusPlus,
    started: Instant,
) -> anyhow::Result<Kills> {
    let mut kills = Kills::default();
    let deadline = started + config.deadline;
    while kills.total < config.kills && Instant::now() < deadline {
        if queue::all_done(&rt.state(), config.items) {
            break;
        }
        let pause = rng.random_range(10..=60u64);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let targeted = rng.random_bool(0.5);
        let patience = if targeted {
            TARGET_PATIENCE
        } else {
            Duration::ZERO
        };
        let Some(victim) = find_master(rt, workers, patience).await? else {
            continue;
        };
        // The instance found is not the one running now (it died and restarted since
        // the search, so the new one is not the master): not a kill.
        match rt.kill(victim.deployment) {
            Ok(session) if session == victim.session => {}
            _ => continue,
        }
        kills.total += 1;
        if let Some(item) = victim.claimed {
            kills.mid_claim += 1;
            kills.cut_short.push((item, victim.peer));
        }
    }
    Ok(kills)
}

/// The master's running deployment and its session, its peer name, and the item it has
/// claimed, if any.
struct Victim {
    deployment: DeploymentId,
    session: SessionId,
    peer: String,
    claimed: Option<String>,
}

/// The master's deployment, if its instance still runs; within `patience`, waits for
/// one that is mid-claim (returning the master as it is when patience runs out).
async fn find_master(
    rt: &Runtime,
    workers: &[DeploymentId],
    patience: Duration,
) -> anyhow::Result<Option<Victim>> {
    let until = Instant::now() + patience;
    loop {
        let holder = lease_holder(rt).await?;
        let state = rt.state();
        let victim = holder.and_then(|holder| {
            let (deployment, session) = deployment_of(rt, workers, &state, &holder.master)?;
            Some(Victim {
                deployment,
                session,
                claimed: claimed_by(&state, &holder),
                peer: holder.master,
            })
        });
        match victim {
            Some(victim) if victim.claimed.is_some() || Instant::now() >= until => {
                return Ok(Some(victim));
            }
            None if Instant::now() >= until => return Ok(None),
            _ => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// The lease's holder now, on the host's clock.
async fn lease_holder(rt: &Runtime) -> anyhow::Result<Option<LeaseHolder>> {
    let elector = queue::elector();
    Ok(rt
        .inspect(move |el: &Elections, now| el.lease_holder(&elector, now))
        .await?)
}

/// The deployment whose running instance took the peer name `peer`, and its session.
fn deployment_of(
    rt: &Runtime,
    workers: &[DeploymentId],
    state: &State,
    peer: &str,
) -> Option<(DeploymentId, SessionId)> {
    let node = NodePath::parse(queue::WORKERS).ok()?.child(peer).ok()?;
    let session = state.exists(&node)?.ephemeral_owner?;
    Some((deployment_on(rt, workers, session)?, session))
}

/// The item `holder` has claimed under its term and not completed, if any.
fn claimed_by(state: &State, holder: &LeaseHolder) -> Option<String> {
    queue::items(state)
        .into_iter()
        .find_map(|(name, item)| match item {
            Some(Item::Claimed { peer, term })
                if peer == holder.master && term == holder.term.0 =>
            {
                Some(name)
            }
            _ => None,
        })
}
