//! The permission manifest: every op a server exposes, with the permission
//! it requires, for review and policy tooling.

use serde_json::{Value, json};

use crate::{Access, CodecId, OpId, OpKind, ServiceDescriptor};

/// The `"version"` written by [`PermissionManifest::to_json`].
pub const MANIFEST_JSON_VERSION: u64 = 1;

/// One op (a call or a stream open) in a [`PermissionManifest`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestEntry {
    /// `package.Service/method`.
    pub full_name: String,
    /// `package.Service`.
    pub service: String,
    /// The op id.
    pub id: OpId,
    /// Unary or streaming.
    pub kind: OpKind,
    /// A server stream that is a push subscription.
    pub subscription: bool,
    /// The permission required; `None` for a public op.
    pub permission: Option<&'static str>,
    /// Declared public: anyone may call it, authenticated or not.
    pub public: bool,
    /// The accepted codecs, most preferred first.
    pub codecs: Vec<CodecId>,
    /// The transport kind; always `"binary"` today.
    pub transport: &'static str,
}

/// Every op of a set of services with its permission, sorted by full name.
///
/// JSON shape (keys sorted, deterministic):
///
/// ```text
/// { "version": 1,
///   "ops": [ { "name": "demo.Calc/add", "service": "demo.Calc",
///              "id": "0x260af54a8c66338d", "kind": "unary",
///              "permission": "calc.use",          // or null
///              "public": false,                   // true: anyone may call
///              "codecs": [1, 2],                  // codec ids, preference order
///              "transport": "binary" }, … ] }
/// ```
///
/// `kind` is `unary`, `server_stream`, `subscription` (a push server
/// stream), `client_stream`, `bidi` or `datagram` (fire-and-forget); `id` is a
/// hex string because JSON numbers lose precision above 2^53.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_reflect::{OpDescriptor, OpId, OpKind, PermissionManifest, ServiceDescriptor};
///
/// static OPS: [OpDescriptor; 1] = [OpDescriptor::new(
///     "Calc", "add", OpId::from_name("demo", "Calc", "add"), OpKind::Unary,
///     <(i32, i32) as Facet>::SHAPE, <i32 as Facet>::SHAPE,
/// )
/// .with_package("demo")
/// .with_permission("calc.use")];
/// static CALC: ServiceDescriptor = ServiceDescriptor::new("demo", "Calc", &OPS);
///
/// let manifest = PermissionManifest::from_services(&[&CALC]);
/// assert_eq!(
///     manifest.to_json()["ops"][0],
///     serde_json::json!({
///         "name": "demo.Calc/add", "service": "demo.Calc", "id": "0x260af54a8c66338d",
///         "kind": "unary", "permission": "calc.use", "public": false, "codecs": [1],
///         "transport": "binary",
///     })
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PermissionManifest {
    entries: Vec<ManifestEntry>,
}

impl PermissionManifest {
    /// One entry per op of `services`, sorted by full name.
    pub fn from_services(services: &[&ServiceDescriptor]) -> Self {
        let mut entries: Vec<ManifestEntry> = services
            .iter()
            .flat_map(|service| {
                service.ops().iter().map(|op| ManifestEntry {
                    full_name: op.full_name(),
                    service: service.full_name(),
                    id: op.id(),
                    kind: op.kind(),
                    subscription: op.is_subscription(),
                    permission: op.permission(),
                    public: op.access() == Some(Access::Public),
                    codecs: op.codecs().to_vec(),
                    transport: "binary",
                })
            })
            .collect();
        entries.sort_by(|a, b| a.full_name.cmp(&b.full_name).then(a.id.cmp(&b.id)));
        PermissionManifest { entries }
    }

    /// The entries, sorted by full name.
    pub fn entries(&self) -> &[ManifestEntry] {
        &self.entries
    }

    /// Entries whose op requires no permission (public ones, and any that
    /// declare nothing): worth a look in review.
    pub fn unguarded(&self) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.iter().filter(|e| e.permission.is_none())
    }

    /// Every permission some op requires, sorted, each once.
    pub fn permissions(&self) -> std::collections::BTreeSet<&'static str> {
        self.entries.iter().filter_map(|e| e.permission).collect()
    }

    /// The manifest as JSON, in the shape documented on the type.
    pub fn to_json(&self) -> Value {
        let ops: Vec<Value> = self
            .entries
            .iter()
            .map(|e| {
                let codecs: Vec<u16> = e.codecs.iter().map(|c| c.get()).collect();
                json!({
                    "name": e.full_name,
                    "service": e.service,
                    "id": e.id.to_string(),
                    "kind": if e.subscription { "subscription" } else { e.kind.as_str() },
                    "permission": e.permission,
                    "public": e.public,
                    "codecs": codecs,
                    "transport": e.transport,
                })
            })
            .collect();
        json!({ "version": MANIFEST_JSON_VERSION, "ops": ops })
    }

    /// [`PermissionManifest::to_json`] as a compact string.
    pub fn to_json_string(&self) -> String {
        self.to_json().to_string()
    }
}

#[cfg(test)]
mod tests {
    use facet::Facet;

    use super::*;
    use crate::OpDescriptor;

    const fn op(service: &'static str, method: &'static str, kind: OpKind) -> OpDescriptor {
        OpDescriptor::new(
            service,
            method,
            OpId::from_name("m", service, method),
            kind,
            <u32 as Facet>::SHAPE,
            <u32 as Facet>::SHAPE,
        )
        .with_package("m")
    }

    static Z_OPS: [OpDescriptor; 2] = [
        op("Z", "watch", OpKind::ServerStream).with_permission("z.read"),
        op("Z", "alpha", OpKind::Bidi)
            .with_codecs(&[CodecId::RKYV, CodecId::new(0x8001)])
            .public(),
    ];
    static Z: ServiceDescriptor = ServiceDescriptor::new("m", "Z", &Z_OPS);
    static A_OPS: [OpDescriptor; 1] =
        [op("A", "put", OpKind::ClientStream).with_permission("a.write")];
    static A: ServiceDescriptor = ServiceDescriptor::new("m", "A", &A_OPS);

    #[test]
    fn sorted_with_nulls_and_kinds() {
        let manifest = PermissionManifest::from_services(&[&Z, &A]);
        let names: Vec<_> = manifest
            .entries()
            .iter()
            .map(|e| e.full_name.as_str())
            .collect();
        assert_eq!(names, ["m.A/put", "m.Z/alpha", "m.Z/watch"]);
        let json = manifest.to_json();
        assert_eq!(json["version"], 1);
        assert_eq!(json["ops"][1]["permission"], Value::Null);
        assert_eq!(json["ops"][1]["public"], true);
        assert_eq!(json["ops"][0]["public"], false);
        assert_eq!(json["ops"][1]["kind"], "bidi");
        assert_eq!(json["ops"][1]["codecs"], json!([2, 0x8001]));
        assert_eq!(json["ops"][2]["kind"], "server_stream");
        assert_eq!(json["ops"][0]["transport"], "binary");
        let unguarded: Vec<_> = manifest.unguarded().map(|e| e.full_name.as_str()).collect();
        assert_eq!(unguarded, ["m.Z/alpha"]);
    }

    #[test]
    fn string_is_deterministic() {
        let a = PermissionManifest::from_services(&[&Z, &A]).to_json_string();
        let b = PermissionManifest::from_services(&[&A, &Z]).to_json_string();
        assert_eq!(a, b);
        assert!(a.starts_with(r#"{"ops":[{"codecs":[1],"id":"#), "{a}");
    }
}
