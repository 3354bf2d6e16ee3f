//! Quinn's configurations from a [`LinkConfig`] and the TLS configurations.

use std::sync::Arc;
use std::time::Duration;

use prism_proto::frame::HEADER_LEN;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{IdleTimeout, TransportConfig, VarInt};

use super::ALPN_PROTOCOL;
use crate::link::LinkConfig;
use crate::tls::{ClientTls, ServerTls, TlsConfigError};

/// QUIC keep-alive interval: a few packets a minute keep NAT bindings and
/// quinn's idle timer alive while the peer is there.
const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Quinn's idle timeout: a path silent this long is dead.
const IDLE_TIMEOUT: VarInt = VarInt::from_u32(30_000);

/// Received datagrams quinn holds until the link's reader takes them
/// (quinn drops the oldest beyond it, uncounted); the reader takes them
/// as they come once the peer's handshake arrived.
const DATAGRAM_RECEIVE_BUFFER: usize = 256 * 1024;

/// Datagrams quinn holds until the path takes them; the link sends in
/// band what would not fit, so quinn never drops one to make room.
const DATAGRAM_SEND_BUFFER: usize = 1024 * 1024;

/// Room for one whole frame of up to `len` bytes.
fn frame_room(len: u32) -> u64 {
    u64::from(len) + HEADER_LEN as u64
}

/// What a stream the peer opens holds of the receive budget until its end
/// is taken: its messages to the link, so opening and finishing streams
/// faster than the session reads stays bounded too.
pub(super) const STREAM_COST: u32 = 256;

/// Received bytes a link holds at most for the session, which is also
/// QUIC's connection receive window: everything a well-behaved peer can
/// have in flight at once (its credit, one whole CALL or RESPONSE and a
/// small frame per channel, one largest frame, and what each stream it
/// may open holds), so its frames never wait for room. A peer that sends
/// more waits, and memory stays bounded.
pub(super) fn receive_budget(config: &LinkConfig) -> u64 {
    let per_channel = frame_room(config.max_chunk) + HEADER_LEN as u64;
    let streams = u64::from(channel_streams(config)) * u64::from(STREAM_COST);
    u64::from(config.connection_window)
        .saturating_add(u64::from(config.max_channels.max(1)).saturating_mul(per_channel))
        .saturating_add(frame_room(config.max_frame))
        .saturating_add(streams)
}

/// Channel streams the client may have open at once: one per channel,
/// and a quarter more for channels that ended a moment ago (a stream
/// closes about a round trip after its channel; a call that finds none
/// free waits for one).
pub(super) fn channel_streams(config: &LinkConfig) -> u32 {
    let channels = config.max_channels.max(1);
    channels.saturating_add(channels / 4)
}

/// Transport parameters from the session's limits, for the side that
/// accepts channel streams (the server) or opens them (the client, which
/// accepts none: quinn sets aside state for each stream the peer may
/// open, so a limit nobody uses still costs memory).
pub(super) fn transport(config: &LinkConfig, accepts_channels: bool) -> Arc<TransportConfig> {
    let budget = receive_budget(config);
    // One channel's credit and two whole frames.
    let stream_window =
        (u64::from(config.stream_window) + 2 * frame_room(config.max_chunk)).min(budget);
    let channels = if accepts_channels {
        channel_streams(config)
    } else {
        0
    };
    let mut transport = TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(VarInt::from_u32(channels))
        .max_concurrent_uni_streams(VarInt::from_u32(1))
        .receive_window(VarInt::from_u64(budget).unwrap_or(VarInt::MAX))
        .stream_receive_window(VarInt::from_u64(stream_window).unwrap_or(VarInt::MAX))
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(Some(IdleTimeout::from(IDLE_TIMEOUT)))
        .datagram_receive_buffer_size(Some(DATAGRAM_RECEIVE_BUFFER))
        .datagram_send_buffer_size(DATAGRAM_SEND_BUFFER);
    Arc::new(transport)
}

pub(super) fn server(
    tls: &ServerTls,
    config: &LinkConfig,
) -> Result<quinn::ServerConfig, TlsConfigError> {
    let crypto = QuicServerConfig::try_from(tls.config_with_alpn(ALPN_PROTOCOL)).map_err(|e| {
        TlsConfigError::new(format!("the TLS configuration cannot serve QUIC: {e}"))
    })?;
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    server.transport_config(transport(config, true));
    Ok(server)
}

pub(super) fn client(
    tls: &ClientTls,
    config: &LinkConfig,
) -> Result<quinn::ClientConfig, TlsConfigError> {
    let crypto = QuicClientConfig::try_from(tls.config_with_alpn(ALPN_PROTOCOL))
        .map_err(|e| TlsConfigError::new(format!("the TLS configuration cannot open QUIC: {e}")))?;
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(transport(config, false));
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_has_room_for_everything_a_peer_keeping_to_its_credit_sends() {
        let config = LinkConfig::default();
        let channels = u64::from(config.max_channels);
        let in_flight = u64::from(config.connection_window)
            + channels * (frame_room(config.max_chunk) + HEADER_LEN as u64)
            + frame_room(config.max_frame)
            // Every stream it may open holds its cost while it lives.
            + u64::from(channel_streams(&config)) * u64::from(STREAM_COST);
        assert!(receive_budget(&config) >= in_flight);
    }
}
