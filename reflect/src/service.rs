//! Static descriptions of services: a named, versioned group of ops.

use core::fmt;

use crate::OpDescriptor;

/// A service: a named, versioned group of ops, usable in a `static`.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_reflect::{OpDescriptor, OpId, OpKind, ServiceDescriptor};
///
/// static OPS: [OpDescriptor; 1] = [OpDescriptor::new(
///     "Echo",
///     "ping",
///     OpId::from_name("demo", "Echo", "ping"),
///     OpKind::Unary,
///     <String as Facet>::SHAPE,
///     <String as Facet>::SHAPE,
/// )
/// .with_package("demo")];
/// static ECHO: ServiceDescriptor = ServiceDescriptor::new("demo", "Echo", &OPS).with_version("1.0");
///
/// assert_eq!(ECHO.full_name(), "demo.Echo");
/// assert_eq!(ECHO.ops()[0].full_name(), "demo.Echo/ping");
/// ```
#[derive(Clone, Copy)]
pub struct ServiceDescriptor {
    package: &'static str,
    name: &'static str,
    version: Option<&'static str>,
    ops: &'static [OpDescriptor],
    doc: &'static str,
}

impl ServiceDescriptor {
    /// A service with no version and no doc; `package` may be `""`.
    pub const fn new(
        package: &'static str,
        name: &'static str,
        ops: &'static [OpDescriptor],
    ) -> Self {
        ServiceDescriptor {
            package,
            name,
            version: None,
            ops,
            doc: "",
        }
    }

    /// Sets the service version.
    pub const fn with_version(mut self, version: &'static str) -> Self {
        self.version = Some(version);
        self
    }

    /// Sets the doc text.
    pub const fn with_doc(mut self, doc: &'static str) -> Self {
        self.doc = doc;
        self
    }

    /// The package, or `""`.
    pub const fn package(&self) -> &'static str {
        self.package
    }

    /// The service name.
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// The version, if set.
    pub const fn version(&self) -> Option<&'static str> {
        self.version
    }

    /// The ops, in declaration order.
    pub const fn ops(&self) -> &'static [OpDescriptor] {
        self.ops
    }

    /// The doc text, or `""`.
    pub const fn doc(&self) -> &'static str {
        self.doc
    }

    /// `package.Service`, or `Service` without a package.
    pub fn full_name(&self) -> String {
        if self.package.is_empty() {
            self.name.to_owned()
        } else {
            format!("{}.{}", self.package, self.name)
        }
    }
}

impl fmt::Debug for ServiceDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceDescriptor")
            .field("name", &self.full_name())
            .field("version", &self.version)
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}
