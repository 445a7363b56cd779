//! The deployments of every host, in the shared namespace: on an etcd cluster each host
//! keeps a record of each of its deployments under `/_ballot/deployments/<host-id>/<id>`,
//! so any host can list every deployment and say which host runs it (`GET /v1/hosts`).
//!
//! The records are persistent nodes, kept by the host they name: written after a deploy
//! or swap, deleted after an undeploy, and made to match the host's own registry when it
//! starts. The registry on the host's disk stays the source of truth; a record that cannot
//! be written is logged and written again at the host's next start. A host that never
//! comes back leaves its records behind, listed under its name without a live epoch.

use ballot_core::command::{Command, Outcome};
use ballot_core::namespace::{CreateMode, Data, Lifetime, NodePath, Op, State};

use super::host::Host;
use super::registry::Record;
use super::wire::SharedDeploymentView;

/// Where every host's records live.
pub const ROOT: &str = "/_ballot/deployments";

fn folder(host_id: &str) -> Option<NodePath> {
    NodePath::parse(&format!("{ROOT}/{host_id}")).ok()
}

/// Every host's records, by host id, as `state` holds them.
pub fn all(state: &State) -> Vec<(String, Vec<SharedDeploymentView>)> {
    let Ok(root) = NodePath::parse(ROOT) else {
        return Vec::new();
    };
    let hosts = state.children(&root).unwrap_or_default();
    hosts
        .into_iter()
        .filter_map(|host| {
            let folder = root.child(&host).ok()?;
            let records = state
                .children(&folder)
                .unwrap_or_default()
                .into_iter()
                .filter_map(|id| {
                    let (data, _) = state.get(&folder.child(&id).ok()?).ok()?;
                    serde_json::from_slice(data.as_bytes()).ok()
                })
                .collect();
            Some((host, records))
        })
        .collect()
}

impl Host {
    /// The id this host runs under on a cluster; `None` on the embedded store.
    fn host_id(&self) -> Option<String> {
        self.cluster.as_ref().map(|cluster| cluster.id().to_owned())
    }

    /// Writes (or rewrites) the shared record of `record`'s deployment.
    pub(crate) async fn publish(&self, record: &Record) {
        let Some(host_id) = self.host_id() else {
            return;
        };
        let view = SharedDeploymentView {
            id: record.id,
            name: record.name.clone(),
            role: record.role.clone(),
            election: record.election.clone(),
            sha256: record.sha256.clone(),
            host: host_id.clone(),
        };
        let data = Data::from(serde_json::to_vec(&view).expect("a record serializes"));
        if let Err(why) = self.write_record(&host_id, record.id, data).await {
            tracing::warn!(id = record.id, %why, "the deployment's shared record was not written");
        }
    }

    /// Deletes the shared record of deployment `id`.
    pub(crate) async fn withdraw(&self, id: u64) {
        let Some(path) = self
            .host_id()
            .and_then(|host| folder(&host))
            .and_then(|folder| folder.child(&id.to_string()).ok())
        else {
            return;
        };
        if self.runtime.state().exists(&path).is_none() {
            return;
        }
        let deleted = self
            .write(vec![Op::Delete {
                path,
                expected: None,
            }])
            .await;
        if let Err(why) = deleted {
            tracing::warn!(id, %why, "the deployment's shared record was not deleted");
        }
    }

    /// Makes this host's records match its registry: at start, after the deployments came
    /// back.
    pub(crate) async fn publish_all(&self) {
        let Some(folder) = self.host_id().and_then(|host| folder(&host)) else {
            return;
        };
        let records = self.registry.records();
        let listed = self.runtime.state().children(&folder).unwrap_or_default();
        for stale in listed {
            if !records.iter().any(|r| r.id.to_string() == stale)
                && let Ok(id) = stale.parse()
            {
                self.withdraw(id).await;
            }
        }
        for record in &records {
            self.publish(record).await;
        }
    }

    async fn write_record(&self, host_id: &str, id: u64, data: Data) -> Result<(), String> {
        let folder = folder(host_id).ok_or_else(|| format!("host id {host_id:?}"))?;
        // Parents first, each created by whichever host gets there first.
        let mut parent = NodePath::parse("/").expect("the root");
        for name in folder.to_string().trim_start_matches('/').split('/') {
            parent = parent.child(name).map_err(|e| e.to_string())?;
            if self.runtime.state().exists(&parent).is_none() {
                let created = self
                    .write(vec![create(parent.clone(), Data::default())])
                    .await;
                if let Err(why) = created
                    && self.runtime.state().exists(&parent).is_none()
                {
                    return Err(why);
                }
            }
        }
        let path = folder.child(&id.to_string()).map_err(|e| e.to_string())?;
        let op = if self.runtime.state().exists(&path).is_some() {
            Op::Set {
                path,
                data,
                expected: None,
            }
        } else {
            create(path, data)
        };
        self.write(vec![op]).await
    }

    async fn write(&self, ops: Vec<Op>) -> Result<(), String> {
        let command = Command::Multi {
            guard: None,
            ops,
            quota: None,
        };
        match self.runtime.propose(command).await {
            Ok(Ok(Outcome::Committed(_))) => Ok(()),
            Ok(Ok(other)) => Err(format!("{other:?}")),
            Ok(Err(refusal)) => Err(refusal.to_string()),
            Err(error) => Err(error.to_string()),
        }
    }
}

fn create(path: NodePath, data: Data) -> Op {
    Op::Create {
        path,
        data,
        mode: CreateMode {
            lifetime: Lifetime::Persistent,
            sequential: false,
        },
    }
}
