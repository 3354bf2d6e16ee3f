//! The runtime table of codecs, for negotiation and introspection.

use std::collections::BTreeMap;

use prism_core::CodecId;

use crate::{Codec, CodecInfo, RegistryError};

/// The codecs a peer knows, by id.
///
/// # Examples
///
/// ```
/// use prism_codecs::{CodecId, CodecRegistry};
///
/// let registry = CodecRegistry::with_builtins();
/// let postcard = registry.get(CodecId::POSTCARD).expect("built in");
/// assert_eq!(postcard.name, "postcard");
/// ```
#[derive(Debug, Clone, Default)]
pub struct CodecRegistry {
    by_id: BTreeMap<CodecId, CodecInfo>,
}

impl CodecRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry holding Prism's built-in codecs.
    pub fn with_builtins() -> Self {
        let mut registry = Self::new();
        for info in crate::BUILTIN_CODECS {
            // Built-in ids are distinct constants; a clash is a bug caught by tests.
            let _ = registry.insert(*info);
        }
        registry
    }

    /// Registers codec `C`.
    ///
    /// # Errors
    ///
    /// Fails when another codec already holds `C::ID`.
    pub fn register<C: Codec>(&mut self) -> Result<(), RegistryError> {
        self.insert(C::info())
    }

    /// Registers a codec by its runtime description.
    ///
    /// # Errors
    ///
    /// Fails when another codec already holds `info.id`. Registering the same
    /// codec twice is not an error.
    pub fn insert(&mut self, info: CodecInfo) -> Result<(), RegistryError> {
        match self.by_id.get(&info.id) {
            Some(existing) if *existing == info => Ok(()),
            Some(existing) => Err(RegistryError::DuplicateId {
                id: info.id,
                first: existing.name,
                second: info.name,
            }),
            None => {
                self.by_id.insert(info.id, info);
                Ok(())
            }
        }
    }

    /// The codec registered under `id`.
    pub fn get(&self, id: CodecId) -> Option<&CodecInfo> {
        self.by_id.get(&id)
    }

    /// The codec registered under `name`.
    pub fn by_name(&self, name: &str) -> Option<&CodecInfo> {
        self.by_id.values().find(|info| info.name == name)
    }

    /// All registered codecs, by id.
    pub fn iter(&self) -> impl Iterator<Item = &CodecInfo> {
        self.by_id.values()
    }

    /// How many codecs are registered.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no codec is registered.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, Postcard};

    #[test]
    fn builtins_are_listed() {
        let registry = CodecRegistry::with_builtins();
        assert_eq!(registry.len(), crate::BUILTIN_CODECS.len());
        assert_eq!(
            registry.by_name("postcard").map(|c| c.id),
            Some(CodecId::POSTCARD)
        );
    }

    #[test]
    fn duplicate_id_is_an_error_naming_both() {
        let mut registry = CodecRegistry::with_builtins();
        registry
            .register::<Postcard>()
            .expect("same codec twice is fine");
        let clash = CodecInfo {
            id: CodecId::POSTCARD,
            name: "impostor",
            capabilities: Capabilities::NONE,
        };
        let err = registry.insert(clash).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("postcard") && message.contains("impostor"),
            "{message}"
        );
    }
}
