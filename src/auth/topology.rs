//! [`Topology`]: which caller may call which service with which
//! permissions, the only grants a [`TokenIssuer`](super::jwt::TokenIssuer)
//! built with it signs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use prism_reflect::PermissionManifest;
use serde_json::Value;

use super::AuthError;

/// The call graph of a deployment: its services (by audience) and its
/// edges, each a caller subject, a callee audience and the permissions
/// allowed on that edge. Read from JSON:
///
/// ```json
/// { "services": ["jobs", "inference"],
///   "edges": [
///     { "caller": "spiffe://acme/scheduler", "callee": "jobs",
///       "permissions": ["jobs.run", "jobs.cancel"] },
///     { "caller": "spiffe://acme/worker", "callee": "inference",
///       "permissions": ["model.infer"] } ] }
/// ```
///
/// An issuer with a topology refuses a token for an edge it does not list
/// or with permissions beyond the edge's; [`Topology::check`] compares it
/// with a service's manifest.
///
/// # Examples
///
/// ```
/// use prism::auth::Topology;
///
/// let topology = Topology::from_json(r#"{
///     "services": ["jobs"],
///     "edges": [{ "caller": "spiffe://acme/scheduler", "callee": "jobs", "permissions": ["jobs.run"] }]
/// }"#)?;
/// assert!(topology.allows("spiffe://acme/scheduler", "jobs", ["jobs.run"]).is_ok());
/// assert!(topology.allows("spiffe://acme/scheduler", "jobs", ["jobs.cancel"]).is_err());
/// assert!(topology.allows("spiffe://acme/worker", "jobs", ["jobs.run"]).is_err());
/// # Ok::<(), prism::auth::AuthError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Topology {
    services: BTreeSet<String>,
    /// (caller, callee) → permissions.
    edges: BTreeMap<(String, String), BTreeSet<String>>,
}

impl Topology {
    /// Reads a topology from JSON in the shape documented on the type.
    ///
    /// # Errors
    ///
    /// Malformed JSON, a missing or mistyped field, an edge to a service
    /// the topology does not list, or the same edge twice.
    pub fn from_json(text: &str) -> Result<Topology, AuthError> {
        let bad = |what: &str| AuthError::new(format!("topology: {what}"));
        let value: Value =
            serde_json::from_str(text).map_err(|e| bad(&format!("not JSON: {e}")))?;
        let strings = |value: &Value, what: &str| -> Result<BTreeSet<String>, AuthError> {
            value
                .as_array()
                .ok_or_else(|| bad(&format!("`{what}` must be an array of strings")))?
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad(&format!("`{what}` must be an array of strings")))
                })
                .collect()
        };
        let mut topology = Topology {
            services: strings(&value["services"], "services")?,
            edges: BTreeMap::new(),
        };
        let edges = value["edges"]
            .as_array()
            .ok_or_else(|| bad("`edges` must be an array"))?;
        for edge in edges {
            let field = |name: &str| {
                edge[name]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad(&format!("each edge needs a string `{name}`")))
            };
            let (caller, callee) = (field("caller")?, field("callee")?);
            let permissions = strings(&edge["permissions"], "permissions")?;
            topology.add_edge(caller, callee, permissions)?;
        }
        Ok(topology)
    }

    /// Adds a service (an audience).
    #[must_use]
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.services.insert(service.into());
        self
    }

    /// Adds an edge: `caller` may call `callee` with `permissions`.
    ///
    /// # Errors
    ///
    /// `callee` is not a service of the topology, or the edge exists.
    pub fn with_edge<I, P>(
        mut self,
        caller: impl Into<String>,
        callee: impl Into<String>,
        permissions: I,
    ) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        let permissions = permissions.into_iter().map(Into::into).collect();
        self.add_edge(caller.into(), callee.into(), permissions)?;
        Ok(self)
    }

    fn add_edge(
        &mut self,
        caller: String,
        callee: String,
        permissions: BTreeSet<String>,
    ) -> Result<(), AuthError> {
        if !self.services.contains(&callee) {
            return Err(AuthError::new(format!(
                "topology: an edge from `{caller}` names `{callee}`, which is not one of its services"
            )));
        }
        let key = (caller, callee);
        if self.edges.contains_key(&key) {
            return Err(AuthError::new(format!(
                "topology: the edge `{}` -> `{}` is listed twice",
                key.0, key.1
            )));
        }
        self.edges.insert(key, permissions);
        Ok(())
    }

    /// Whether `caller` may be granted `permissions` on `callee`.
    ///
    /// # Errors
    ///
    /// The edge is not in the topology, or it does not allow one of the
    /// permissions (each named).
    pub fn allows<I, P>(&self, caller: &str, callee: &str, permissions: I) -> Result<(), AuthError>
    where
        I: IntoIterator<Item = P>,
        P: AsRef<str>,
    {
        let Some(allowed) = self.edges.get(&(caller.to_owned(), callee.to_owned())) else {
            return Err(AuthError::new(format!(
                "the topology has no edge from `{caller}` to `{callee}`"
            )));
        };
        let beyond: Vec<String> = permissions
            .into_iter()
            .filter(|p| !allowed.contains(p.as_ref()))
            .map(|p| format!("`{}`", p.as_ref()))
            .collect();
        if beyond.is_empty() {
            Ok(())
        } else {
            Err(AuthError::new(format!(
                "the edge `{caller}` -> `{callee}` does not allow {}",
                beyond.join(", ")
            )))
        }
    }

    /// Compares the topology with the manifest of `service`: permissions
    /// the manifest requires that no edge grants (ops nobody may call), and
    /// permissions edges grant that the manifest does not declare (grants
    /// that mean nothing, often a typo).
    pub fn check(&self, service: &str, manifest: &PermissionManifest) -> TopologyReport {
        let declared: BTreeSet<String> = manifest
            .permissions()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut granted = BTreeSet::new();
        let mut unknown = Vec::new();
        for ((caller, callee), permissions) in &self.edges {
            if callee != service {
                continue;
            }
            for permission in permissions {
                granted.insert(permission.clone());
                if !declared.contains(permission) {
                    unknown.push(UnknownGrant {
                        caller: caller.clone(),
                        permission: permission.clone(),
                    });
                }
            }
        }
        TopologyReport {
            service: service.to_owned(),
            ungranted: declared.difference(&granted).cloned().collect(),
            unknown,
        }
    }
}

/// What [`Topology::check`] found for one service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopologyReport {
    /// The service checked.
    pub service: String,
    /// Permissions its manifest requires that no edge grants.
    pub ungranted: Vec<String>,
    /// Grants of permissions its manifest does not declare.
    pub unknown: Vec<UnknownGrant>,
}

/// An edge granting a permission the callee's manifest does not declare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownGrant {
    /// The caller of the edge.
    pub caller: String,
    /// The permission.
    pub permission: String,
}

impl TopologyReport {
    /// Whether the topology and the manifest agree.
    pub fn is_clean(&self) -> bool {
        self.ungranted.is_empty() && self.unknown.is_empty()
    }
}

impl core::fmt::Display for TopologyReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.is_clean() {
            return write!(f, "{}: the topology and the manifest agree", self.service);
        }
        let mut text = format!("{}:", self.service);
        for permission in &self.ungranted {
            let _ = write!(text, " no edge grants `{permission}`;");
        }
        for grant in &self.unknown {
            let _ = write!(
                text,
                " `{}` is granted `{}`, which no op declares;",
                grant.caller, grant.permission
            );
        }
        f.write_str(text.trim_end_matches(';'))
    }
}
