//! Call metadata, once both sides offered [`Features::METADATA`]: a CALL
//! flagged `METADATA` starts its payload with the call's [`Metadata`]
//! block, then the request (nothing more when its request direction is
//! open). The block is a multiple of 16 bytes, so the request keeps its
//! alignment, and counts toward the chunk limit like the request.
//!
//! The receiving session checks the block before the call is admitted,
//! with the rules of [`Metadata::decode`]: an entry that carries a
//! credential (a channel authenticates at its handshake; tokens never
//! travel per call), or a block that breaks the wire form or its limits,
//! fails the call with `INVALID_ARGUMENT` and a message naming the key,
//! never the value. The session goes on, no event is raised and nothing
//! of the request is read.

use bytes::Bytes;
use prism_core::{Code, MAX_METADATA_LEN, Metadata, MetadataError, Payload};

use super::{Features, OpenError, Session};

impl Session {
    /// The encoded block of an outgoing call's metadata (empty for none),
    /// checked against what the peer takes.
    pub(crate) fn metadata_block(&self, metadata: &Metadata) -> Result<Bytes, OpenError> {
        if metadata.is_empty() {
            return Ok(Bytes::new());
        }
        if !self.features().contains(Features::METADATA) {
            return Err(OpenError::NoMetadata);
        }
        let (len, max) = (metadata.encoded_len(), self.send_chunk());
        if len > max {
            return Err(OpenError::MetadataTooLarge { len, max });
        }
        Ok(metadata.encode())
    }

    /// Splits an incoming CALL's payload into its metadata and its
    /// request. On a refused block, answers the call with an ERROR and
    /// returns `None`.
    pub(crate) fn split_metadata(
        &mut self,
        id: u32,
        open: bool,
        payload: Payload,
    ) -> Option<(Metadata, Payload)> {
        // Only the block is read: in place when it is one segment (as
        // from a byte-stream link, or an in-process sender, which sends
        // it as a segment of its own), else copied (at most
        // MAX_METADATA_LEN bytes).
        let stated = payload.slice(0, 4).to_vec();
        let len = match <[u8; 4]>::try_from(stated) {
            Ok(len) => (u32::from_le_bytes(len) as usize).min(MAX_METADATA_LEN),
            Err(_) => 0,
        };
        let block = payload.slice(0, len);
        let decoded = match block.segment_count() {
            1 => block.segments().next().map(|b| Metadata::decode(b)),
            _ => Some(Metadata::decode(&block.to_vec())),
        };
        match decoded.unwrap_or(Err(MetadataError::Malformed("cut short"))) {
            Ok((metadata, len)) => {
                let request = payload.slice(len, payload.len() - len);
                Some((metadata, request))
            }
            Err(error) => {
                let message = error.to_string();
                self.refuse_call(id, open, Code::InvalidArgument, &message);
                None
            }
        }
    }
}
